/**
 * The decode loop as a user runs it: a KV cache on the device at capacity t, filled by a
 * prefill (sequences of different lengths), then N steps, each one submission that appends
 * one token per sequence and attends over the cache. The same steps through host arrays
 * (the whole cache uploaded per call) are timed in the same run, and the last step is
 * checked against the interpreter.
 */
import { compile } from '../compile.ts';
import { fail } from '../errors.ts';
import { interpret } from '../interp/index.ts';
import {
  getRuntime,
  PagedKvCache,
  Session,
  upload,
  zeros,
  type DeviceTensor,
  type HostArray,
  type KvCache,
  type Runtime,
  type SessionResult,
} from '../runtime/index.ts';
import { seededRandom } from '../tune/inputs.ts';
import { timeStats, type TimeStats } from '../tune/stats.ts';
import { attentionOptions, gqa } from '../variants/index.ts';
import { decodeDims, decodeLayout, makeCache, type DecodeLayout } from './setup.ts';

/** Options of {@link runDecode}. */
export interface DecodeOptions {
  /** a variant with a KV cache: gqa, mqa, mha, mla_decode, paged, gqa_int8 … */
  variant: string;
  /** variant options (`cache` and `causal` are on by default) */
  opts?: Record<string, boolean | number>;
  /** sizes; t is the cache capacity (paged: m·blk) */
  dims: Record<string, number>;
  /** decode steps; the prefill fills t − steps tokens of the longest sequence */
  steps: number;
  runtime?: Runtime;
  /** check the last step against the interpreter (default true) */
  check?: boolean;
  /** host-array calls to time (default 3; 0 skips them) */
  hostRepeats?: number;
  seed?: number;
}

/** What {@link runDecode} measured. */
export interface DecodeReport {
  variant: string;
  graph: string;
  dims: Record<string, number>;
  steps: number;
  /** tokens per sequence after the prefill */
  prefill: number[];
  /** the passes of one step, in order */
  passes: string[];
  /**
   * wall time per step of the loop as an application runs it: step i+1 is recorded and
   * submitted while step i runs, then step i's timings are awaited (one step in flight)
   */
  step_wall_ms: TimeStats;
  /** wall time of one step alone: record, submit, wait for its timings (the first half of the steps) */
  step_latency_ms: TimeStats;
  step_kernel_ms: TimeStats;
  /** one call through host arrays (upload the cache, run, read back); null when not timed */
  host_step_wall_ms: TimeStats | null;
  /** max |GPU − interpreter| of the last step; null without the check */
  max_abs_err: number | null;
}

/** Uniform f32 values in [-amp, amp) from a seeded generator: the same cache, queries and weights for a seed. */
function random(seed: number): (n: number, amp?: number) => Float32Array {
  const next = seededRandom(seed);
  return (n, amp = 1) => Float32Array.from({ length: n }, () => Math.fround((next() * 2 - 1) * amp));
}

const count = (axes: readonly string[], dims: Record<string, number>) => axes.reduce((p, a) => p * dims[a]!, 1);

/** The host's copy of a contiguous cache tensor [b, H…, t, R…], advanced as the device's is. */
class Mirror {
  readonly data: Float32Array;
  private readonly heads: number;
  private readonly row: number;
  constructor(
    axes: readonly string[],
    dims: Record<string, number>,
    private readonly capacity: number,
  ) {
    const at = axes.indexOf('t');
    this.heads = count(axes.slice(1, at), dims);
    this.row = count(axes.slice(at + 1), dims);
    this.data = new Float32Array(dims.b! * this.heads * capacity * this.row);
  }
  /** rows [b, H…, s, R…] at each sequence's length, counts[b] each */
  append(rows: Float32Array, s: number, lens: Int32Array, counts: ArrayLike<number>) {
    const { heads: H, row: R, capacity: T } = this;
    for (let b = 0; b < lens.length; b++)
      for (let h = 0; h < H; h++)
        for (let i = 0; i < counts[b]!; i++)
          this.data.set(rows.subarray(((b * H + h) * s + i) * R, ((b * H + h) * s + i + 1) * R), ((b * H + h) * T + lens[b]! + i) * R);
  }
}

/** The step's inputs for the host-array path and the interpreter: every tensor as a host array. */
async function hostInputs(
  layout: DecodeLayout,
  cache: KvCache | PagedKvCache,
  mirrors: Map<string, Mirror>,
  device: Record<string, DeviceTensor>,
): Promise<Record<string, HostArray>> {
  const out: Record<string, HostArray> = {};
  for (const [name, t] of Object.entries(device)) out[name] = await t.read();
  if (cache instanceof PagedKvCache || layout.int8) for (const [name, t] of Object.entries(cache.inputs)) out[name] = await t.read();
  else for (const [name, m] of mirrors) out[name] = m.data;
  out.kv_len = Int32Array.from(cache.lengths);
  return out;
}

/**
 * Checks a decode request without touching the GPU: the variant, its sizes, the steps against the capacity.
 * @example checkDecode({ variant: 'gqa', dims: { b: 1, h: 8, g: 2, t: 64, d: 16, dv: 16 }, steps: 8 }).capacity // 64
 */
export function checkDecode(o: Pick<DecodeOptions, 'variant' | 'opts' | 'dims' | 'steps'>): {
  layout: DecodeLayout;
  dims: Record<string, number>;
  capacity: number;
} {
  if (!Number.isSafeInteger(o.steps) || o.steps < 1) fail('USAGE', `decode: --steps must be a positive integer, got ${o.steps}`);
  const layout = decodeLayout(o.variant, o.opts);
  const { dims, capacity } = decodeDims(layout, o.dims);
  if (capacity < o.steps)
    fail(
      'USAGE',
      `decode: the cache capacity ${layout.kind === 'paged' ? `m·blk = ${capacity}` : `t = ${capacity}`} is smaller than --steps ${o.steps}; each step appends a token`,
    );
  return { layout, dims, capacity };
}

/**
 * Runs a decode loop on the device and the same step through host arrays; see {@link DecodeReport}.
 * @example const r = await runDecode({ variant: 'gqa', dims: { b: 1, h: 32, g: 8, t: 8192, d: 128, dv: 128 }, steps: 32 })
 */
export async function runDecode(o: DecodeOptions): Promise<DecodeReport> {
  const { layout, dims, capacity } = checkDecode(o);
  const rt = o.runtime ?? (await getRuntime());
  const rand = random(o.seed ?? 1);
  const attention = compile(layout.graph);
  const cache = makeCache(rt, layout, dims);
  const made: DeviceTensor[] = [];
  const keep = <T extends DeviceTensor>(t: T) => (made.push(t), t);
  try {
    // constants (weights scaled by 1/√fan-in, per-head vectors) and the output, once
    const constants: Record<string, DeviceTensor> = {};
    for (const c of layout.constants)
      constants[c.name] = keep(upload(rt, rand(count(c.axes, dims), c.axes.length > 1 ? 1 / Math.sqrt(dims[c.axes[0]!]!) : 1), c.axes, dims, c.name));
    const out = keep(zeros(rt, 'f32', layout.graph.outputs[0]!.node.axes, dims, 'o'));

    // prefill: sequence b holds P − ⌊b·P / 2B⌋ tokens (a ragged batch), P = t − steps
    const P = capacity - o.steps;
    const B = dims.b!;
    const prefill = Array.from({ length: B }, (_, b) => P - Math.floor((b * P) / (2 * B)));
    const mirrors = new Map(layout.cached.map((c) => [c.name, new Mirror(c.axes, dims, capacity)]));
    const lens = new Int32Array(B);
    const rowsOf = (s: number) => Object.fromEntries(layout.cached.map((c) => [c.name, rand(count(c.axes, { ...dims, t: s }))]));
    if (P > 0) {
      const rows = rowsOf(P);
      await cache.append(rows, { counts: prefill });
      for (const c of layout.cached) mirrors.get(c.name)!.append(rows[c.name]!, P, lens, prefill);
      lens.set(prefill);
    }
    // every step's new rows and queries, uploaded before the loop: the loop itself moves no data
    const steps = Array.from({ length: o.steps }, () => {
      const rows = rowsOf(1);
      const q = Object.fromEntries(layout.perStep.map((p) => [p.name, rand(count(p.axes, dims))]));
      return {
        rows,
        rowTensors: Object.fromEntries(
          layout.cached.map((c) => [
            c.name,
            keep(
              upload(
                rt,
                rows[c.name]!,
                c.axes.map((a) => (a === 't' ? 's' : a)),
                dims,
                c.name,
              ),
            ),
          ]),
        ),
        q: Object.fromEntries(layout.perStep.map((p) => [p.name, keep(upload(rt, q[p.name]!, p.axes, dims, p.name))])),
      };
    });
    // compile the attention's pipelines outside the timed loop
    await attention.run({ ...steps[0]!.q, ...constants, ...cache.inputs }, dims, { into: { o: out }, runtime: rt });

    const record = async (step: (typeof steps)[number]) => {
      const session = new Session(rt, { timing: true, label: `${layout.graph.name} step` });
      await cache.append(step.rowTensors, { session });
      await attention.run({ ...step.q, ...constants, ...cache.inputs }, dims, { session, into: { o: out } });
      // the host's copy of the cache follows the device's (the interpreter checks against it)
      for (const c of layout.cached) mirrors.get(c.name)!.append(step.rows[c.name]!, 1, lens, new Int32Array(B).fill(1));
      for (let b = 0; b < B; b++) lens[b]!++;
      return session;
    };
    const timed = await timeSteps(steps, record);

    const last = steps[steps.length - 1]!;
    const host = o.hostRepeats === 0 && o.check === false ? undefined : await hostInputs(layout, cache, mirrors, { ...last.q, ...constants });
    const hostWall: number[] = [];
    for (let i = 0; i < (o.hostRepeats ?? 3); i++) {
      const t0 = performance.now();
      await attention.run(host!, dims, { runtime: rt });
      hostWall.push(performance.now() - t0);
    }
    let maxErr: number | null = null;
    if (o.check !== false) maxErr = maxAbs(await out.read(), reference(layout, host!, mirrors, dims, capacity));
    return {
      variant: layout.variant.name,
      graph: layout.graph.name,
      dims,
      steps: o.steps,
      prefill,
      passes: timed.passes,
      step_wall_ms: timeStats(timed.loop),
      step_latency_ms: timeStats(timed.latency),
      step_kernel_ms: timeStats(timed.kernel),
      host_step_wall_ms: hostWall.length ? timeStats(hostWall) : null,
      max_abs_err: maxErr,
    };
  } finally {
    cache.destroy();
    for (const t of made) t.destroy();
  }
}

/**
 * Times the steps: the first half one at a time (latency: record, submit, wait), the rest as a
 * loop with one step in flight (the interval between completions). Kernel time from timestamps.
 */
async function timeSteps<S>(steps: readonly S[], record: (step: S) => Promise<Session>) {
  const latency: number[] = [];
  const loop: number[] = [];
  const kernel: number[] = [];
  let passes: string[] = [];
  const done = (r: SessionResult) => {
    kernel.push(r.kernelMs!.reduce((a, b) => a + b, 0));
    passes = r.passes;
  };
  const alone = Math.max(1, Math.ceil(steps.length / 2));
  for (const step of steps.slice(0, alone)) {
    const t0 = performance.now();
    done(await (await record(step)).submit());
    latency.push(performance.now() - t0);
  }
  // completion times; a step's wall is the mean interval over a window of two steps, since
  // one await often returns late and the next at once (its step finished meanwhile)
  const completed = [performance.now()];
  let inFlight: Promise<SessionResult> | undefined;
  const finish = async () => {
    if (!inFlight) return;
    done(await inFlight);
    completed.push(performance.now());
  };
  for (const step of steps.slice(alone)) {
    const next = (await record(step)).submit();
    await finish();
    inFlight = next;
  }
  await finish();
  for (let i = 1; i < completed.length; i++) loop.push((completed[i]! - completed[Math.max(0, i - 2)]!) / Math.min(i, 2));
  return { latency, loop: loop.length ? loop : latency, kernel, passes };
}

/** The interpreter's output for the last step; a paged cache is checked as the contiguous GQA cache it stands for. */
function reference(
  layout: DecodeLayout,
  host: Record<string, HostArray>,
  mirrors: Map<string, Mirror>,
  dims: Record<string, number>,
  capacity: number,
): Float64Array | Float32Array {
  if (layout.kind === 'paged') {
    const g = gqa({ ...attentionOptions(layout.options), cache: true });
    const ins: Record<string, HostArray> = { ...host, k: mirrors.get('k')!.data, v: mirrors.get('v')!.data };
    for (const n of ['k_cache', 'v_cache', 'block_table']) delete ins[n];
    const sizes = Object.fromEntries(g.sizes.filter((a) => a === 't' || dims[a] !== undefined).map((a) => [a, a === 't' ? capacity : dims[a]!]));
    return interpret(g, ins, sizes).o!.data as Float64Array;
  }
  return interpret(layout.graph, host, dims)[layout.graph.outputs[0]!.name]!.data as Float64Array;
}

function maxAbs(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    m = Number.isNaN(d) ? Infinity : Math.max(m, d);
  }
  return m;
}
