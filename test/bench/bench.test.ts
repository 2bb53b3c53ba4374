/**
 * The benchmark's machinery: the hand-written ONNX models run on ONNX Runtime and
 * agree with einattn and the interpreter (so the peer computes the same thing), the
 * statistics and targets are right, and `einattn bench --json` prints one object per
 * system.
 */
import { describe, expect, test } from 'vitest';
import {
  customCase,
  loadOrt,
  noisy,
  pairedRatio,
  speedup,
  onnxModel,
  ortProblem,
  ortRunner,
  targets,
  timeStats,
  benchMarkdown,
  type BenchResult,
  type BenchRow,
} from '../../src/bench/index.ts';
import { interpret } from '../../src/interp/index.ts';
import { findVariant } from '../../src/variants/index.ts';
import { sampleInputs } from '../../src/tune/index.ts';
import { cli } from '../cli/helpers.ts';

const ort = await loadOrt();
if (typeof ort === 'string') throw new Error(ort); // the peer is a dev dependency: its absence is a failure, not a skip

const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => Array.from(a).reduce((m, x, i) => Math.max(m, Math.abs(x - b[i]!)), 0);

describe('ONNX models written by hand', () => {
  test('a one-node Relu model runs on the CPU provider', async () => {
    const model = onnxModel(
      { op: 'Relu', inputs: ['x'], outputs: ['y'] },
      [{ name: 'x', type: 'float', shape: [4] }],
      [{ name: 'y', type: 'float', shape: ['n'] }],
    );
    const s = await ort.InferenceSession.create(model, { executionProviders: ['cpu'], logSeverityLevel: 3 });
    const y = await s.run({ x: new ort.Tensor('float32', Float32Array.of(-1, 2, -3, 4), [4]) });
    expect(Array.from(y.y!.data as Float32Array)).toEqual([0, 2, 0, 4]);
    await s.release();
  });

  // every variant family the bench compares, at small sizes, against the float64 interpreter
  const rows: [string, Record<string, boolean | number>, Record<string, number>][] = [
    ['mha', {}, { b: 2, h: 3, s: 7, t: 9, d: 8, dv: 8 }],
    ['mha', { causal: true }, { b: 1, h: 2, s: 9, t: 9, d: 8, dv: 8 }],
    ['gqa', {}, { b: 2, h: 4, g: 2, s: 1, t: 13, d: 8, dv: 8 }],
    ['gqa', { causal: true }, { b: 1, h: 4, g: 2, s: 5, t: 11, d: 8, dv: 8 }],
    ['mqa', {}, { b: 1, h: 3, s: 1, t: 10, d: 8, dv: 8 }],
    ['mla_decode', {}, { b: 1, h: 2, s: 1, t: 6, dn: 4, dr: 4, dc: 12, dv: 4 }],
  ];
  test.each(rows)('%s %j on ORT CPU equals the interpreter', async (variant, opts, dims) => {
    const c = customCase(variant, dims, opts);
    const g = findVariant(variant)!.build(c.opts);
    const inputs = sampleInputs(g, dims);
    const ref = interpret(g, Object.fromEntries(Object.entries(inputs).map(([k, v]) => [k, v.data])), dims).o!.data;
    const p = ortProblem(c, inputs);
    if (typeof p === 'string') throw new Error(p);
    const r = await ortRunner(ort, p, 'cpu');
    const { output } = await r.run();
    await r.release();
    expect(output.length).toBe(ref.length);
    expect(maxDiff(output, ref)).toBeLessThan(1e-5);
  });

  test('the WebGPU provider runs the GQA decode peer and agrees with the interpreter', async () => {
    const dims = { b: 1, h: 4, g: 2, s: 1, t: 40, d: 16, dv: 16 };
    const g = findVariant('gqa')!.build({});
    const inputs = sampleInputs(g, dims);
    const ref = interpret(g, Object.fromEntries(Object.entries(inputs).map(([k, v]) => [k, v.data])), dims).o!.data;
    const p = ortProblem(customCase('gqa', dims), inputs);
    if (typeof p === 'string') throw new Error(p);
    const r = await ortRunner(ort, p, 'webgpu');
    const { output, ms } = await r.run();
    await r.release();
    expect(ms).toBeGreaterThan(0);
    expect(maxDiff(output, ref)).toBeLessThan(1e-5);
  });

  test('rows no ONNX Runtime op expresses say why', () => {
    const dims = { b: 1, h: 2, s: 4, t: 4, d: 4, dv: 4 };
    const g = findVariant('mha')!.build({ softcap: 5 });
    expect(ortProblem(customCase('mha', dims, { softcap: 5 }), sampleInputs(g, dims))).toMatch(/no ONNX Runtime op expresses option softcap/);
    expect(ortProblem(customCase('linformer', { b: 1, h: 1, s: 4, t: 4, d: 4, dv: 4, k: 2 }), {})).toMatch(/no ONNX Runtime op for variant 'linformer'/);
  });
});

test('timeStats: median, quartiles and range', () => {
  expect(timeStats([5, 1, 3, 2, 4])).toEqual({ runs: 5, median: 3, p25: 2, p75: 4, min: 1, max: 5 });
  expect(timeStats([2, 4]).median).toBe(3);
  expect(() => timeStats([])).toThrow(/no samples/);
});

test('targets compare wall-time ratios and roofline fractions, and say when they are not met', () => {
  const row = (system: BenchRow['system'], ms: number, extra: Partial<BenchRow> = {}): BenchRow => ({
    case: 'gqa-decode-1024',
    variant: 'gqa',
    opts: {},
    dims: { s: 1, t: 1024 },
    kind: 'decode',
    system,
    status: 'ok',
    flops: 1e9,
    bytes: 1e8,
    wall: timeStats([ms]),
    rooflineMs: 1,
    bound: 'memory',
    ...extra,
  });
  const result: BenchResult = {
    date: 'x',
    machine: { cpus: 2, cpuModel: 'cpu', memoryGiB: 1, platform: 'linux', node: 'v20' },
    adapter: { id: 'a', kind: 'software', description: 'lavapipe', backend: 'vulkan' },
    roofline: { adapter: 'a', gflops: 10, gbps: 10, readGbps: 10, measuredAt: 'x', method: 'm' },
    repeat: 1,
    rows: [row('einattn', 10, { gbps: 7, gflops: 1 }), row('ort-webgpu', 15)],
  };
  const [prefill, gqa, , decode] = targets(result);
  expect(prefill!.measured).toEqual([]); // no MHA row: not measured, not met
  expect(gqa!.measured).toEqual([{ case: 'gqa-decode-1024', value: 1.5 }]);
  expect(gqa!.met).toBe(true);
  expect(decode!.measured[0]!.value).toBeCloseTo(0.7);
  expect(decode!.met).toBe(true);
  const md = benchMarkdown(result, 'npm run bench');
  expect(md).toContain('| GQA decode: speed-up over ORT WebGPU | 1.2 | gqa-decode-1024: 1.50 | yes |');
  expect(md).toContain('1.5 |'); // the ×ort-webgpu column of the einattn row
});

describe('einattn bench', () => {
  test('--only VARIANT --dims … --json prints one object per system, all agreeing', async () => {
    const r = await cli([
      'bench',
      '--only',
      'gqa',
      '--dims',
      'b=1,h=4,g=2,s=1,t=64,d=16,dv=16',
      '--systems',
      'einattn,einattn-unfused,interpreter,ort-cpu',
      '--repeat',
      '2',
      '--json',
    ]);
    expect(r.code).toBe(0);
    const rows = JSON.parse(r.stdout) as Record<string, unknown>[];
    expect(rows.map((x) => x.system).sort()).toEqual(['einattn', 'einattn-unfused', 'interpreter', 'ort-cpu']);
    for (const x of rows) {
      expect(x).toMatchObject({ variant: 'gqa', status: 'ok', dims: { b: 1, h: 4, g: 2, s: 1, t: 64, d: 16, dv: 16 } });
      for (const k of ['median_ms', 'gflops', 'gbps']) expect(x[k]).toBeGreaterThan(0);
      if (x.system !== 'interpreter') expect(x.max_abs_diff as number).toBeLessThan(1e-5); // against the interpreter
    }
    expect(r.errLines.some((l) => /roofline: [\d.]+ GFLOP\/s, [\d.]+ GB\/s/.test(l))).toBe(true);
  });

  test('the GPU memory each einattn plan allocates: no s×t temporary when fused, the score matrix when not', async () => {
    const r = await cli([
      'bench',
      '--only',
      'mha',
      '--dims',
      'b=1,h=2,s=96,t=96,d=16,dv=16',
      '--systems',
      'einattn,einattn-unfused',
      '--repeat',
      '1',
      '--json',
    ]);
    expect(r.code).toBe(0);
    const rows = Object.fromEntries((JSON.parse(r.stdout) as Record<string, number>[]).map((x) => [x.system, x]));
    const scores = 2 * 96 * 96 * 4; // b·h·s·t f32
    const io = 4 * 2 * 96 * 16 * 4; // q, k, v and o
    // the fused plan's temporaries are split-KV partials (s·dv per split), never an s×t matrix
    expect(rows.einattn!.largest_temp_bytes).toBeLessThan(scores);
    expect(rows.einattn!.gpu_bytes).toBeLessThan(io + scores);
    expect(rows['einattn-unfused']!.largest_temp_bytes).toBeGreaterThanOrEqual(scores);
    expect(rows['einattn-unfused']!.gpu_bytes).toBeGreaterThan(io + scores);
  });

  test('bad arguments are one-line usage errors', async () => {
    for (const [args, msg] of [
      [['--systems', 'einattn,tpu'], /no system 'tpu'/],
      [['--dims', 'b=1'], /give the variant with --only/],
      [['--only', 'nope'], /no row or variant 'nope'/],
      [['--repeat', '0'], /--repeat must be an integer/],
      [['--repeatability', '--only', 'nope'], /no row or variant 'nope'/],
    ] as const) {
      const r = await cli(['bench', ...args]);
      expect(r.code).toBe(2);
      expect(r.errLines.join('\n')).toMatch(msg);
    }
  });
});

test('paired ratios: the median of per-round ratios, which a drifting machine does not bias', () => {
  // the machine slows down 3× halfway: both systems feel it in the same rounds
  const row = [10, 10, 30, 30, 30];
  const peer = [20, 20, 60, 60, 60];
  expect(pairedRatio(row, peer)).toBe(2);
  expect(pairedRatio([], [])).toBeUndefined();
  const r = (system: BenchRow['system'], wall: number[], extra: Partial<BenchRow> = {}): BenchRow => ({
    case: 'x',
    variant: 'gqa',
    opts: {},
    dims: {},
    kind: 'decode',
    system,
    status: 'ok',
    flops: 1,
    bytes: 1,
    wall: timeStats(wall),
    rooflineMs: 1,
    bound: 'memory',
    ...extra,
  });
  // a peer measured in calmer rounds: its median says 1, the paired calls say 2
  const einattn = r('einattn', row, { paired: { 'ort-webgpu': 2 } });
  const rows = [einattn, r('ort-webgpu', [30, 30, 30, 30, 30])];
  expect(speedup(rows, einattn, 'ort-webgpu')).toBe(2);
  expect(speedup(rows, r('einattn', row), 'ort-webgpu')).toBe(1); // without pairs: the ratio of medians
  expect(noisy(r('einattn', [10, 10, 30, 30, 30]))).toBe(true);
  expect(noisy(r('einattn', [10, 10.5, 10.2, 9.9, 10.1]))).toBe(false);
});
