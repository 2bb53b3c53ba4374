/**
 * The peer: ONNX Runtime (`onnxruntime-node`) with its WebGPU and CPU execution
 * providers, running the contrib ops a user would pick for the same problem —
 * `com.microsoft.MultiHeadAttention` for MHA prefill, `GroupQueryAttention` for
 * GQA/MQA decode and for MLA decode's attention over the latent cache. Inputs are
 * laid out the way those ops want them once, before timing; outputs are brought
 * back to einattn's layout so every row can be checked against einattn's.
 */
import type { BenchCase } from './cases.ts';
import type { SampleInput } from '../tune/inputs.ts';
import { onnxModel, type OnnxNode, type ValueInfo } from './onnx.ts';

type Ort = typeof import('onnxruntime-node');

/** An ONNX problem: the model, its feeds, and how to read its output in einattn's layout. */
export interface OrtProblem {
  model: Uint8Array;
  feeds: Record<string, { type: 'float32' | 'int32'; data: Float32Array | Int32Array; dims: number[] }>;
  output: string;
  /** the output in the layout of einattn's output `o` */
  toEinattn(out: Float32Array): Float32Array;
  /** what the peer runs, when it differs from the einattn row */
  note?: string;
}

let loaded: Promise<Ort | string> | undefined;

/**
 * The onnxruntime-node module, or the reason it is not available.
 * @example const ort = await loadOrt(); if (typeof ort === 'string') console.log(ort)
 */
export function loadOrt(): Promise<Ort | string> {
  loaded ??= import('onnxruntime-node').then(
    (m) => ((m as { default?: Ort }).default ?? m) as Ort,
    (e: Error) => `onnxruntime-node is not installed (${e.message.split('\n')[0]}); install it with ONNXRUNTIME_NODE_INSTALL=skip npm install`,
  );
  return loaded;
}

/** [a, b, c, d] → [a, c, b, d] (BNSH ↔ BSNH), row-major. */
function swap12(x: Float32Array, [a, b, c, d]: number[]): Float32Array {
  const out = new Float32Array(x.length);
  for (let i = 0; i < a; i++)
    for (let j = 0; j < b; j++)
      for (let k = 0; k < c; k++) out.set(x.subarray(((i * b + j) * c + k) * d, ((i * b + j) * c + k + 1) * d), ((i * c + k) * b + j) * d);
  return out;
}

/** Rows [from, to) of axis 2 of a [a, b, n, d] array, as [a, b, to - from, d]. */
function rows(x: Float32Array, [a, b, n, d]: number[], from: number, to: number): Float32Array {
  const out = new Float32Array(a * b * (to - from) * d);
  for (let i = 0; i < a * b; i++) out.set(x.subarray((i * n + from) * d, (i * n + to) * d), i * (to - from) * d);
  return out;
}

const f32 = (x: SampleInput) => x.data as Float32Array;
const info = (name: string, type: ValueInfo['type'], shape: (number | string)[]): ValueInfo => ({ name, type, shape });

/** GroupQueryAttention over a cache: `s` new tokens after `t - s` past ones (the op is causal). */
function gqaProblem(
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
  d: { b: number; h: number; g: number; s: number; t: number; hd: number },
  scale: number,
): Omit<OrtProblem, 'toEinattn'> {
  const { b, h, g, s, t, hd } = d;
  if (hd % 8 !== 0) throw new Error(`GroupQueryAttention needs a head size that is a multiple of 8, got ${hd}`);
  const past = t - s;
  const node: OnnxNode = {
    op: 'GroupQueryAttention',
    domain: 'com.microsoft',
    inputs: ['query', 'key', 'value', past ? 'past_key' : '', past ? 'past_value' : '', 'seqlens_k', 'total_sequence_length'],
    outputs: ['output', 'present_key', 'present_value'],
    attributes: { num_heads: h, kv_num_heads: g, scale: { float: scale } },
  };
  const ins = [info('query', 'float', [b, s, h * hd]), info('key', 'float', [b, s, g * hd]), info('value', 'float', [b, s, g * hd])];
  if (past) ins.push(info('past_key', 'float', [b, g, past, hd]), info('past_value', 'float', [b, g, past, hd]));
  ins.push(info('seqlens_k', 'int32', [b]), info('total_sequence_length', 'int32', []));
  // present_* shapes are left symbolic: ORT infers them from the op
  const outs = [
    info('output', 'float', [b, s, h * hd]),
    info('present_key', 'float', ['B', 'G', 'T', 'D']),
    info('present_value', 'float', ['B', 'G', 'T', 'D']),
  ];
  const kvShape = [b, g, t, hd];
  const feeds: OrtProblem['feeds'] = {
    query: { type: 'float32', data: swap12(q, [b, h, s, hd]), dims: [b, s, h * hd] },
    key: { type: 'float32', data: swap12(rows(k, kvShape, past, t), [b, g, s, hd]), dims: [b, s, g * hd] },
    value: { type: 'float32', data: swap12(rows(v, kvShape, past, t), [b, g, s, hd]), dims: [b, s, g * hd] },
    seqlens_k: { type: 'int32', data: new Int32Array(b).fill(t - 1), dims: [b] },
    total_sequence_length: { type: 'int32', data: Int32Array.of(t), dims: [] },
  };
  if (past) {
    feeds.past_key = { type: 'float32', data: rows(k, kvShape, 0, past), dims: [b, g, past, hd] };
    feeds.past_value = { type: 'float32', data: rows(v, kvShape, 0, past), dims: [b, g, past, hd] };
  }
  return { model: onnxModel(node, ins, outs), feeds, output: 'output' };
}

/** Options the ONNX ops below express; any other option has no peer. */
function plainOptions(c: BenchCase, allowed: string[]): string | undefined {
  const extra = Object.entries(c.opts).filter(([k, v]) => !allowed.includes(k) && v !== false && v !== 0);
  return extra.length ? `no ONNX Runtime op expresses option ${extra.map(([k]) => k).join(', ')}` : undefined;
}

/**
 * The ONNX Runtime problem equal to a bench row, or why there is none.
 * @example const { model, feeds, output } = ortProblem(DEFAULT_CASES[0], sampleInputs(mha(), DEFAULT_CASES[0].dims)) as OrtProblem // an ONNX model, its inputs, 'o'
 * @example ortProblem({ ...DEFAULT_CASES[0], dims: { ...DEFAULT_CASES[0].dims, dv: 32 } }, {}) // 'MultiHeadAttention with per-head (BNSH) keys and values needs equal QK and V head dims'
 */
export function ortProblem(c: BenchCase, inputs: Record<string, SampleInput>): OrtProblem | string {
  const D = c.dims as Record<string, number>;
  if (c.variant === 'mha') {
    const why = plainOptions(c, ['causal']);
    if (why) return why;
    const { b, h, s, t, d, dv } = D as { b: number; h: number; s: number; t: number; d: number; dv: number };
    if (c.opts.causal && s !== t) return 'MultiHeadAttention is causal only for s = t here (einattn aligns the mask to the end)';
    if (d !== dv) return 'MultiHeadAttention with per-head (BNSH) keys and values needs equal QK and V head dims';
    const node: OnnxNode = {
      op: 'MultiHeadAttention',
      domain: 'com.microsoft',
      inputs: ['q', 'k', 'v'],
      outputs: ['o'],
      attributes: { num_heads: h, unidirectional: c.opts.causal ? 1 : 0, scale: { float: 1 / Math.sqrt(d) } },
    };
    const model = onnxModel(
      node,
      [info('q', 'float', [b, s, h * d]), info('k', 'float', [b, h, t, d]), info('v', 'float', [b, h, t, dv])],
      [info('o', 'float', [b, s, h * dv])],
    );
    return {
      model,
      output: 'o',
      feeds: {
        q: { type: 'float32', data: swap12(f32(inputs.q!), [b, h, s, d]), dims: [b, s, h * d] },
        k: { type: 'float32', data: f32(inputs.k!), dims: [b, h, t, d] },
        v: { type: 'float32', data: f32(inputs.v!), dims: [b, h, t, dv] },
      },
      toEinattn: (o) => swap12(o, [b, s, h, dv]),
    };
  }
  if (c.variant === 'gqa' || c.variant === 'mqa') {
    const why = plainOptions(c, ['causal']);
    if (why) return why;
    const { b, h, s, t, d, dv } = D as { b: number; h: number; s: number; t: number; d: number; dv: number };
    const g = c.variant === 'mqa' ? 1 : D.g!;
    if (d !== dv) return 'GroupQueryAttention needs equal QK and V head dims';
    if (d % 8 !== 0) return `GroupQueryAttention needs a head size that is a multiple of 8, got ${d}`;
    if (s > 1 && !c.opts.causal) return 'GroupQueryAttention is always causal; the row is not (s > 1)';
    const p = gqaProblem(f32(inputs.q!), f32(inputs.k!), f32(inputs.v!), { b, h, g, s, t, hd: d }, 1 / Math.sqrt(d));
    return { ...p, toEinattn: (o) => swap12(o, [b, s, h, dv]) };
  }
  if (c.variant === 'mla_decode') {
    const why = plainOptions(c, ['causal', 'cache', 'absorbed', 'rope']);
    if (why) return why;
    const { b, h, s, t, dn, dr, dc, dv } = D as Record<'b' | 'h' | 's' | 't' | 'dn' | 'dr' | 'dc' | 'dv', number>;
    if (s !== 1 || c.opts.rope === false) return 'the MLA peer covers decoding (s = 1) with the RoPE part';
    const hd = dc + dr;
    if (hd % 8 !== 0) return `GroupQueryAttention needs a head size (dc + dr) that is a multiple of 8, got ${hd}`;
    // Weight absorption happens outside the timed call: the peer attends over the
    // latent cache with one shared KV head of width dc + dr (values padded with zeros).
    const qNope = f32(inputs.q_nope!),
      qRope = f32(inputs.q_rope!),
      ckv = f32(inputs.c_kv!),
      kRope = f32(inputs.k_rope!);
    const wUk = f32(inputs.w_uk!),
      wUv = f32(inputs.w_uv!);
    const q = new Float32Array(b * h * hd);
    for (let bh = 0; bh < b * h; bh++) {
      const hh = bh % h;
      for (let c0 = 0; c0 < dc; c0++) {
        let acc = 0;
        for (let n = 0; n < dn; n++) acc += qNope[bh * dn + n]! * wUk[(c0 * h + hh) * dn + n]!;
        q[bh * hd + c0] = acc;
      }
      q.set(qRope.subarray(bh * dr, (bh + 1) * dr), bh * hd + dc);
    }
    const k = new Float32Array(b * t * hd);
    const v = new Float32Array(b * t * hd);
    for (let r = 0; r < b * t; r++) {
      k.set(ckv.subarray(r * dc, (r + 1) * dc), r * hd);
      k.set(kRope.subarray(r * dr, (r + 1) * dr), r * hd + dc);
      v.set(ckv.subarray(r * dc, (r + 1) * dc), r * hd);
    }
    const p = gqaProblem(q, k, v, { b, h, g: 1, s: 1, t, hd }, 1 / Math.sqrt(dn + dr));
    return {
      ...p,
      note: 'attention core over the latent cache (GroupQueryAttention, 1 KV head of width dc+dr); q absorption and the w_uv projection run outside the timed call',
      toEinattn: (o) => {
        const out = new Float32Array(b * h * dv);
        for (let bh = 0; bh < b * h; bh++) {
          const hh = bh % h;
          for (let j = 0; j < dv; j++) {
            let acc = 0;
            for (let c0 = 0; c0 < dc; c0++) acc += o[bh * hd + c0]! * wUv[(c0 * h + hh) * dv + j]!;
            out[bh * dv + j] = acc;
          }
        }
        return out;
      },
    };
  }
  return `no ONNX Runtime op for variant '${c.variant}'`;
}

/** A ready ONNX Runtime session for one problem on one execution provider. */
export interface OrtRunner {
  run(): Promise<{ ms: number; output: Float32Array }>;
  release(): Promise<void>;
}

/**
 * Creates a session for `problem` on `ep` ('webgpu' or 'cpu').
 * @example const r = await ortRunner(ort, problem, 'webgpu'); const { ms } = await r.run()
 */
export async function ortRunner(ort: Ort, problem: OrtProblem, ep: 'webgpu' | 'cpu'): Promise<OrtRunner> {
  // ORT's CPU thread pool spins for tens of ms after each run by default: on a 2-core machine that
  // slows the next timed call of whichever system follows it in the rotation (einattn's kernel
  // ran at 0.63× its speed right after an ORT CPU call), so its threads wait without spinning
  const noSpin = { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } };
  const session = await ort.InferenceSession.create(problem.model, {
    executionProviders: [ep],
    graphOptimizationLevel: 'all',
    logSeverityLevel: 3,
    extra: noSpin,
  });
  const feeds: Record<string, InstanceType<Ort['Tensor']>> = {};
  for (const [name, f] of Object.entries(problem.feeds)) feeds[name] = new ort.Tensor(f.type, f.data, f.dims);
  return {
    async run() {
      const t0 = performance.now();
      const out = await session.run(feeds);
      const ms = performance.now() - t0;
      return { ms, output: problem.toEinattn(out[problem.output]!.data as Float32Array) };
    },
    release: () => session.release(),
  };
}
