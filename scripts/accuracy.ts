/**
 * `npm run accuracy -- [--quick] [--no-write] [--seed N]`: the measured error of each
 * precision (f32, f16 storage, f16 compute, both, int8 KV cache, int8 with f16 compute)
 * for MHA prefill, GQA decode and MLA decode at realistic shapes, against the float64
 * interpreter on the original f32 inputs (so storage and quantisation pay for their
 * rounding). Prints a markdown table and writes it into docs/PRECISION.md between the
 * `accuracy:start` / `accuracy:end` markers, with the command, machine and adapter.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus, platform, release } from 'node:os';
import { parseArgs } from 'node:util';
import { compile, type CompileOptions } from '../src/compile.ts';
import { interpret, type Graph } from '../src/index.ts';
import { adapterReport, closeRuntime, getRuntime, type Runtime } from '../src/runtime/index.ts';
import { gqa, kvAppendInt8, mha, mla, type KvLayout } from '../src/variants/index.ts';

function usage(message: string): never {
  console.error(`accuracy: ${message} (usage: npm run accuracy -- [--quick] [--no-write] [--seed N])`);
  process.exit(2);
}

let flags: { quick?: boolean; 'no-write'?: boolean; seed?: string };
try {
  flags = parseArgs({ options: { quick: { type: 'boolean' }, 'no-write': { type: 'boolean' }, seed: { type: 'string' } } }).values;
} catch (e) {
  usage((e as Error).message.split('\n')[0]!);
}
const seed = Number(flags.seed ?? '1');
if (!Number.isInteger(seed) || seed < 0) usage(`--seed must be a non-negative integer, got '${flags.seed}'`);

/** mulberry32 uniforms turned into standard normals (Box–Muller): activations, not a box. */
function normals(seed: number): (n: number, std?: number) => Float32Array {
  let a = seed >>> 0;
  const u = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) + 0.5) / 4294967296;
  };
  return (n, std = 1) => Float32Array.from({ length: n }, () => std * Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u()));
}

/** One variant at one shape: its f32 graph, int8 graph, the cache tensors and their layout. */
interface Problem {
  name: string;
  shape: string;
  dims: Record<string, number>;
  f32: Graph;
  int8?: { graph: Graph; layout: KvLayout; cache: string[] };
  inputs: Record<string, Float32Array | Int32Array>;
}

function problems(quick: boolean): Problem[] {
  const rand = normals(seed);
  const count = (axes: string, d: Record<string, number>) => axes.split(' ').reduce((p, a) => p * d[a]!, 1);
  const mhaDims = quick ? { b: 1, h: 2, s: 32, t: 32, d: 32, dv: 32 } : { b: 1, h: 8, s: 256, t: 256, d: 64, dv: 64 };
  const gqaDims = quick ? { b: 2, h: 4, g: 2, s: 1, t: 64, d: 32, dv: 32 } : { b: 2, h: 32, g: 8, s: 1, t: 2048, d: 128, dv: 128 };
  const mlaDims = quick ? { b: 1, h: 4, s: 1, t: 64, dn: 16, dr: 8, dc: 64, dv: 16 } : { b: 1, h: 16, s: 1, t: 2048, dn: 128, dr: 64, dc: 512, dv: 128 };
  const lens = (d: Record<string, number>) => Int32Array.from({ length: d.b! }, (_, i) => (i === 0 ? d.t! : Math.ceil(d.t! * 0.7)));
  return [
    {
      name: 'MHA prefill (causal)',
      shape: `b=1 h=${mhaDims.h} s=t=${mhaDims.t} d=dv=${mhaDims.d}`,
      dims: mhaDims,
      f32: mha({ causal: true }),
      inputs: { q: rand(count('b h s d', mhaDims)), k: rand(count('b h t d', mhaDims)), v: rand(count('b h t dv', mhaDims)) },
    },
    {
      name: 'GQA decode',
      shape: `b=${gqaDims.b} h=${gqaDims.h} g=${gqaDims.g} t=${gqaDims.t} d=dv=${gqaDims.d}`,
      dims: gqaDims,
      f32: gqa({ causal: true, cache: true }),
      int8: { graph: gqa({ int8: true, causal: true, cache: true }), layout: 'gqa', cache: ['k', 'v'] },
      inputs: { q: rand(count('b h s d', gqaDims)), k: rand(count('b g t d', gqaDims)), v: rand(count('b g t dv', gqaDims)), kv_len: lens(gqaDims) },
    },
    {
      name: 'MLA decode (absorbed)',
      shape: `b=1 h=${mlaDims.h} t=${mlaDims.t} dc=${mlaDims.dc} dr=${mlaDims.dr} dn=dv=${mlaDims.dn}`,
      dims: mlaDims,
      f32: mla({ absorbed: true, causal: true, cache: true }),
      int8: { graph: mla({ absorbed: true, causal: true, cache: true, int8: true }), layout: 'mla', cache: ['c_kv', 'k_rope'] },
      inputs: {
        q_nope: rand(count('b h s dn', mlaDims)),
        q_rope: rand(count('b h s dr', mlaDims)),
        c_kv: rand(count('b t dc', mlaDims)),
        k_rope: rand(count('b t dr', mlaDims)),
        w_uk: rand(count('dc h dn', mlaDims), 1 / Math.sqrt(mlaDims.dn)),
        w_uv: rand(count('dc h dv', mlaDims), 1 / Math.sqrt(mlaDims.dc)),
        kv_len: lens(mlaDims),
      },
    },
  ];
}

/** The precisions measured, as compile options (int8 rows also quantise the cache). */
const PRECISIONS: { name: string; opts: CompileOptions; int8?: boolean }[] = [
  { name: 'f32', opts: {} },
  { name: 'f16 storage', opts: { storage: 'f16' } },
  { name: 'f16 compute', opts: { compute: 'f16' } },
  { name: 'f16 storage + compute', opts: { storage: 'f16', compute: 'f16' } },
  { name: 'int8 KV', opts: {}, int8: true },
  { name: 'int8 KV + f16 compute', opts: { compute: 'f16' }, int8: true },
];

interface Row {
  variant: string;
  precision: string;
  maxAbs: number;
  meanAbs: number;
  maxRel: number;
  meanRel: number;
}

/** Errors against the reference: max and mean |err|; relative ones normalised by max |ref| and mean |ref|. */
function measure(got: ArrayLike<number>, want: ArrayLike<number>): Omit<Row, 'variant' | 'precision'> {
  let maxAbs = 0;
  let sumAbs = 0;
  let refMax = 0;
  let refSum = 0;
  for (let i = 0; i < want.length; i++) {
    const e = Math.abs(got[i]! - want[i]!);
    maxAbs = Number.isNaN(e) ? Infinity : Math.max(maxAbs, e);
    sumAbs += e;
    refMax = Math.max(refMax, Math.abs(want[i]!));
    refSum += Math.abs(want[i]!);
  }
  return { maxAbs, meanAbs: sumAbs / want.length, maxRel: maxAbs / refMax, meanRel: sumAbs / refSum };
}

/** The int8 cache of `p`: its K/V tensors quantised by the GPU append step (kv_len = 0, all t rows new). */
async function quantise(p: Problem, rt: Runtime): Promise<Record<string, Float32Array | Int8Array>> {
  const { layout, cache } = p.int8!;
  const d = p.dims;
  const dims: Record<string, number> = { b: d.b!, t: d.t!, s: d.t! };
  for (const k of ['g', 'd', 'dv', 'dc', 'dr']) if (d[k] !== undefined) dims[k] = d[k]!;
  const g = kvAppendInt8(layout);
  const ins: Record<string, ArrayLike<number>> = { kv_len: new Int32Array(d.b!) };
  for (const i of g.inputs) {
    if (i.name === 'kv_len') continue;
    const n = i.axes.reduce((q, a) => q * dims[a]!, 1);
    if (i.name.endsWith('_new')) ins[i.name] = p.inputs[i.name.slice(0, -4)]!;
    else ins[i.name] = i.dtype === 'i8' ? new Int8Array(n) : new Float32Array(n);
  }
  const out = (await compile(g).run(ins, Object.fromEntries(Object.entries(dims).filter(([k]) => g.sizes.includes(k))), { runtime: rt })).outputs;
  const res: Record<string, Float32Array | Int8Array> = {};
  for (const name of cache) {
    res[`${name}_q`] = out[`${name}_q_next`]!.data as Int8Array;
    res[`${name}_scale`] = out[`${name}_scale_next`]!.data as Float32Array;
  }
  return res;
}

async function main(): Promise<void> {
  const t0 = performance.now();
  const rt = await getRuntime();
  const rows: Row[] = [];
  for (const p of problems(flags.quick === true)) {
    process.stderr.write(`${p.name} at ${p.shape}: reference (float64 interpreter)… `);
    const want = interpret(p.f32, p.inputs, p.dims).o!.data;
    let cache: Record<string, Float32Array | Int8Array> | undefined;
    for (const prec of PRECISIONS) {
      if (prec.int8 && !p.int8) continue;
      process.stderr.write(`${prec.name}… `);
      let graph = p.f32;
      let inputs: Record<string, ArrayLike<number>> = p.inputs;
      if (prec.int8) {
        cache ??= await quantise(p, rt);
        graph = p.int8!.graph;
        inputs = Object.fromEntries(graph.inputs.map((i) => [i.name, cache![i.name] ?? p.inputs[i.name]!]));
      }
      const got = (await compile(graph, prec.opts).run(inputs, p.dims, { runtime: rt })).outputs.o!.data;
      rows.push({ variant: `${p.name}, ${p.shape}`, precision: prec.name, ...measure(got, want) });
    }
    process.stderr.write('\n');
  }
  const secs = ((performance.now() - t0) / 1000).toFixed(0);
  const report = adapterReport(rt);
  const fmt = (x: number) => (x === 0 ? '0' : x.toExponential(2));
  const table = [
    '| variant and shape | precision | max abs err | mean abs err | max err / max \\|ref\\| | mean err / mean \\|ref\\| |',
    '|---|---|---:|---:|---:|---:|',
    ...rows.map((r) => `| ${r.variant} | ${r.precision} | ${fmt(r.maxAbs)} | ${fmt(r.meanAbs)} | ${fmt(r.maxRel)} | ${fmt(r.meanRel)} |`),
  ];
  const cmd = `npm run accuracy${flags.quick ? ' -- --quick' : ''}${seed !== 1 ? ` --seed ${seed}` : ''}`;
  const about = [
    `Measured with \`${cmd}\` on ${new Date().toISOString().slice(0, 10)}, ${secs} s: ${cpus().length} × ${cpus()[0]?.model.trim() ?? 'CPU'}, ${platform()} ${release()}, Node ${process.version};`,
    `adapter: ${report.kind} ${report.description || report.device} (${report.backend}). Inputs are standard normal (MLA weights scaled by 1/√fan-in), seed ${seed};`,
    'kv_len is t for the first sequence and 0.7·t for the second. The reference is the float64 interpreter on the original f32 values.',
  ];
  const text = [...about, '', ...table].join('\n');
  console.log(text);
  if (!flags['no-write']) {
    const path = new URL('../docs/PRECISION.md', import.meta.url);
    const doc = readFileSync(path, 'utf8');
    const [start, end] = ['<!-- accuracy:start -->', '<!-- accuracy:end -->'];
    const i = doc.indexOf(start);
    const j = doc.indexOf(end);
    if (i < 0 || j < i) throw new Error(`docs/PRECISION.md has no ${start} … ${end} markers`);
    writeFileSync(path, `${doc.slice(0, i + start.length)}\n${text}\n${doc.slice(j)}`);
    console.error('wrote the table into docs/PRECISION.md');
  }
}

try {
  await main();
} finally {
  await closeRuntime();
}
