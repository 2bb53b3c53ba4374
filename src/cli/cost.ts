/** `einattn cost`: FLOPs, bytes, KV cache and roofline predictions, from the graph. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { costOf, DEVICES, kvContextSvg, localDevice, rooflineSvg, type CostReport, type Device } from '../cost/index.ts';
import { adapterFlag, openRuntime } from './gpu.ts';
import { findVariant, variants } from '../variants/index.ts';
import { parseDims, parseFlags, parseOptFlags, positiveInt, usage, variantOptions } from './args.ts';
import { dimsText, fmtBytes, fmtNum, table } from './format.ts';

async function device(name: string | undefined): Promise<Device | undefined> {
  if (name === undefined) return undefined;
  if (name === 'local') {
    // measured on first use (a few seconds) and cached per adapter in .einattn/roofline.json
    const d = await localDevice(await openRuntime(adapterFlag(undefined)));
    console.log(
      `local roofline: ${d.measured.gflops.toPrecision(3)} GFLOP/s, ${d.measured.readGbps.toPrecision(3)} GB/s read, ${d.measured.gbps.toPrecision(3)} GB/s copy (${d.source})`,
    );
    return d;
  }
  const d = DEVICES[name];
  if (!d) usage(`unknown --device '${name}' (devices: ${Object.keys(DEVICES).join(', ')}, local)`);
  return d;
}

function costLines(r: CostReport): string {
  const rows: string[][] = [
    [
      'FLOPs',
      fmtNum(r.flops.total),
      `contractions ${fmtNum(r.flops.contraction)}, softmax ${fmtNum(r.flops.softmax)}, elementwise ${fmtNum(r.flops.elementwise)}`,
    ],
    [
      'mask density',
      r.flops.maskDensity.map((d) => (d === null ? 'unknown (mask reads tensors; counted dense)' : d.toFixed(4))).join(', ') || '-',
      'fraction of (query, key) pairs computed',
    ],
    [
      'bytes, fused plan',
      fmtBytes(r.fused.read + r.fused.written),
      `${r.fused.kernels} kernels; read ${fmtBytes(r.fused.read)}, written ${fmtBytes(r.fused.written)}, temporaries ${fmtBytes(r.fused.temp)}`,
    ],
    ['bytes, unfused plan', fmtBytes(r.unfused.read + r.unfused.written), `${r.unfused.kernels} kernels; temporaries ${fmtBytes(r.unfused.temp)}`],
    [
      'KV cache per token',
      fmtBytes(r.kv.bytes),
      `${r.kv.elements} elements per layer: ${r.kv.inputs.map((i) => `${i.name} ${i.elements}`).join(' + ') || 'no attention found'}`,
    ],
    ['arithmetic intensity', `${r.intensity.toPrecision(4)} FLOP/B`, 'fused plan'],
  ];
  if (r.device)
    rows.push([
      `on ${r.device.name}`,
      `${r.device.predictedMs.toPrecision(3)} ms`,
      `${r.device.bound}-bound (ridge ${r.device.ridge.toPrecision(3)} FLOP/B; ${r.device.source})`,
    ]);
  return table(['', r.dtype, ''], rows);
}

/**
 * Runs `einattn cost` and returns the exit code.
 * @example await costCommand(['mha', '--dims', 'b=1,h=8,s=1024,t=1024,d=64,dv=64', '--device', 'h100'])
 */
export async function costCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags(
    argv,
    {
      dims: { type: 'string', multiple: true },
      opt: { type: 'string', multiple: true },
      dtype: { type: 'string' },
      device: { type: 'string' },
      compare: { type: 'string' },
      layers: { type: 'string' },
      context: { type: 'string' },
      batch: { type: 'string' },
      svg: { type: 'string' },
      json: { type: 'boolean' },
    },
    'cost',
  );
  const dtype = (values.dtype ?? 'f32') as string;
  if (dtype !== 'f32' && dtype !== 'f16') usage(`--dtype must be f32 or f16, got '${dtype}'`);
  const dev = await device(values.device as string | undefined);
  const given = parseDims((values.dims as string[] | undefined) ?? []);
  if (values.compare !== undefined) return compare(String(values.compare), given, dtype, dev, values);
  const name = positionals[0];
  if (!name) usage('cost needs a variant (see einattn list) or --compare mha,gqa,…');
  const v = findVariant(name);
  if (!v) usage(`unknown variant '${name}' (variants: ${variants.map((x) => x.name).join(', ')})`);
  const opts = variantOptions(v, parseOptFlags((values.opt as string[] | undefined) ?? []));
  const dims = Object.keys(given).length ? given : v.dims.bench;
  const r = costOf(v.build(opts), dims, { dtype, device: dev });
  if (values.json) console.log(JSON.stringify(r, null, 2));
  else console.log(`${v.name} at ${dimsText(r.sizes)}\n${costLines(r)}`);
  if (typeof values.svg === 'string' && dev)
    writeSvg(
      values.svg,
      'roofline.svg',
      rooflineSvg({ name: dev.name, peak: dev.flops[dtype], bandwidth: dev.bandwidth }, [{ label: v.name, intensity: r.intensity }]),
    );
  return 0;
}

function writeSvg(dir: string, file: string, svg: string): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, file), svg);
  console.log(`wrote ${join(dir, file)}`);
}

/** Variants side by side at one model shape: a decode step (s = 1) at the context length. */
function compare(list: string, given: Record<string, number>, dtype: 'f32' | 'f16', dev: Device | undefined, values: Record<string, unknown>): number {
  const layers = positiveInt(String(values.layers ?? 32), '--layers');
  const context = positiveInt(String(values.context ?? 4096), '--context');
  const batch = positiveInt(String(values.batch ?? 8), '--batch');
  const bytes = dtype === 'f16' ? 2 : 4;
  const rows: string[][] = [];
  const results: { name: string; r: CostReport }[] = [];
  for (const name of list
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const v = findVariant(name);
    if (!v) usage(`--compare: unknown variant '${name}' (variants: ${variants.map((x) => x.name).join(', ')})`);
    const g = v.build();
    const dims: Record<string, number> = {};
    for (const [k, val] of Object.entries({ ...v.dims.bench, ...given })) if (g.sizes.includes(k)) dims[k] = val;
    for (const [k, val] of Object.entries({ b: batch, s: 1, t: context })) if (g.sizes.includes(k) && !(k in given)) dims[k] = val;
    // a KV axis made of blocks (t = m * blk): set the block count instead
    const eq = g.equations.find((e) => e.size === 't' && e.factors.length > 1);
    if (eq && !('t' in given)) {
      const [first, ...rest] = eq.factors;
      delete dims.t;
      dims[first!] = Math.ceil(context / rest.reduce((p, f) => p * (dims[f] ?? 1), 1));
    }
    const r = costOf(g, dims, { dtype, device: dev });
    results.push({ name, r });
    rows.push([
      name,
      String(r.kv.elements),
      fmtBytes(r.kv.bytes),
      fmtBytes(r.kv.bytes * layers * context * batch),
      fmtNum(r.flops.total),
      fmtBytes(r.fused.read + r.fused.written),
      r.intensity.toPrecision(3),
      r.device ? `${(r.device.predictedMs * layers).toPrecision(3)} ms (${r.device.bound})` : '-',
    ]);
  }
  console.log(`decode step (s=1) at context ${context}, batch ${batch}, ${layers} layers, ${dtype}${dev ? `, on ${dev.name}` : ''}`);
  console.log(
    table(['variant', 'KV elems/token', 'KV bytes/token/layer', 'KV cache total', 'FLOPs/layer', 'bytes/layer', 'FLOP/B', 'step time (all layers)'], rows),
  );
  if (typeof values.svg === 'string') {
    writeSvg(
      values.svg,
      'kv-vs-context.svg',
      kvContextSvg(
        results.map((x) => ({ label: x.name, bytesPerToken: x.r.kv.elements * bytes })),
        { layers, batch },
      ),
    );
    if (dev)
      writeSvg(
        values.svg,
        'roofline.svg',
        rooflineSvg(
          { name: dev.name, peak: dev.flops[dtype], bandwidth: dev.bandwidth },
          results.map((x) => ({ label: x.name, intensity: x.r.intensity })),
        ),
      );
  }
  return 0;
}
