/**
 * KV caches on the device: a fixed capacity, per-sequence lengths that live on the GPU
 * and advance there, and `append`, which writes one step's new rows in place with a small
 * kernel. A host mirror of the lengths catches an overflowing append before any GPU work.
 */
import { fail } from '../../errors.ts';
import type { HostArray } from '../dtypes.ts';
import type { Runtime } from '../device.ts';
import { runPlan, type RunValue } from '../execute.ts';
import type { ExecPlan } from '../plan.ts';
import type { Session } from '../session.ts';
import { DeviceTensor, zeros } from '../tensor.ts';
import { appendInt8Plan, appendWordsPlan, sizesFor, type CacheTensorSpec } from './kernels.ts';
import { SequenceLengths } from './lengths.ts';
import { own } from '../own.ts';

/** The cached tensors of the built-in layouts: name, axes (t = the token axis), the row axis an int8 scale covers. */
export const CACHE_LAYOUTS = {
  mha: [
    ['k', 'b h t d', 'd'],
    ['v', 'b h t dv', 'dv'],
  ],
  gqa: [
    ['k', 'b g t d', 'd'],
    ['v', 'b g t dv', 'dv'],
  ],
  mqa: [
    ['k', 'b t d', 'd'],
    ['v', 'b t dv', 'dv'],
  ],
  mla: [
    ['c_kv', 'b t dc', 'dc'],
    ['k_rope', 'b t dr', 'dr'],
  ],
} as const satisfies Record<string, readonly (readonly [string, string, string])[]>;

/** A built-in cache layout: mha, gqa, mqa (k and v) or mla (DeepSeek-V2's latent c_kv and k_rope). */
export type CacheLayout = keyof typeof CACHE_LAYOUTS;

/** Options of {@link KvCache}. */
export interface KvCacheOptions {
  /** which tensors are cached: a built-in layout, or your own `[name, 'b … t …']` pairs */
  layout: CacheLayout | readonly (readonly [string, string])[];
  /** sizes of the layout's axes; the token axis (`t`) is the capacity */
  dims: Record<string, number>;
  /** storage: f32 (default), f16 (rows of an even length), or int8 (i8 values and an f32 scale per row; rows a multiple of 4) */
  dtype?: 'f32' | 'f16' | 'int8';
  /** the token axis of the cache (default 't') and of the new rows (default 's') */
  token?: string;
  rows?: string;
}

/** Options of {@link KvCache.append}. */
export interface AppendOptions {
  /** record into this session (one submission with the attention that follows) instead of submitting now */
  session?: Session;
  /** rows each sequence appends (default: all of the rows' `s`); sequences of a batch may grow unevenly */
  counts?: ArrayLike<number>;
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * The rows' `s` from their tensor or array, checking every other axis against the cache.
 * @example rowsCount('append', 'k', new Float32Array(16), ['b', 'g', 't', 'd'], { b: 1, g: 2, d: 4 }, 't') // 2
 */
export function rowsCount(what: string, name: string, v: RunValue, axes: readonly string[], dims: Record<string, number>, token: string): number {
  const per = axes.filter((a) => a !== token).reduce((p, a) => p * dims[a]!, 1);
  if (v instanceof DeviceTensor) {
    const want = axes.map((a) => (a === token ? undefined : dims[a]));
    if (v.shape.length !== axes.length || !v.shape.every((n, i) => want[i] === undefined || n === want[i]))
      fail(
        'BAD_INPUT',
        `${what}: new rows '${name}' must be [${axes.map((a) => (a === token ? 's' : `${a}=${dims[a]}`)).join(', ')}], got tensor ${v.describe()}`,
      );
    return v.shape[axes.indexOf(token)]!;
  }
  const len = (v as HostArray)?.length;
  if (typeof len !== 'number' || per === 0 || len % per !== 0)
    fail(
      'BAD_INPUT',
      `${what}: new rows '${name}' must hold s × ${per} values ([${axes.map((a) => (a === token ? 's' : a)).join(' ')}]), got ${typeof len === 'number' ? `${len}` : typeof v}`,
    );
  return len / per;
}

/**
 * A contiguous KV cache on the device (MHA, GQA, MQA, MLA's latent cache, or your own
 * layout), in f32, f16 or int8. Pass `cache.inputs` to the attention of a decode step.
 * @example const cache = new KvCache(rt, { layout: 'gqa', dims: { b: 1, g: 8, t: 4096, d: 128, dv: 128 } })
 */
export class KvCache {
  readonly runtime: Runtime;
  /** the cached tensors: k, v (or k_q, k_scale, v_q, v_scale with int8; c_kv, k_rope for MLA) */
  readonly tensors: Readonly<Record<string, DeviceTensor>>;
  /** the lengths on the device, i32 [b] */
  readonly kvLen: DeviceTensor;
  /** the host's mirror of the lengths (advanced by `append`, never read back from the GPU) */
  readonly lengths: Int32Array;
  private readonly seq: SequenceLengths;
  readonly capacity: number;
  readonly dtype: 'f32' | 'f16' | 'int8';
  readonly dims: Readonly<Record<string, number>>;
  private readonly specs: { name: string; spec: CacheTensorSpec; plan: ExecPlan; dim: string }[];
  private readonly token: string;
  private readonly rowsAxis: string;

  constructor(runtime: Runtime, opts: KvCacheOptions) {
    this.runtime = runtime;
    const { dims } = opts;
    this.token = opts.token ?? 't';
    this.rowsAxis = opts.rows ?? 's';
    this.dtype = opts.dtype ?? 'f32';
    if (!['f32', 'f16', 'int8'].includes(this.dtype)) fail('DTYPE', `KvCache: dtype must be 'f32', 'f16' or 'int8', got ${JSON.stringify(this.dtype)}`);
    const decls = layoutTensors(opts.layout);
    this.dims = { ...dims };
    this.specs = decls.map(([name, axesText]) => this.specFor(name, axesText, dims));
    this.capacity = dims[this.token]!;
    const batch = dims.b!;
    const tensors: Record<string, DeviceTensor> = {};
    for (const { name, spec, dim } of this.specs) {
      if (this.dtype === 'int8') {
        tensors[`${name}_q`] = zeros(runtime, 'i8', spec.axes, dims, `${name}_q`);
        tensors[`${name}_scale`] = zeros(
          runtime,
          'f32',
          spec.axes.filter((a) => a !== dim),
          dims,
          `${name}_scale`,
        );
      } else tensors[name] = zeros(runtime, spec.dtype, spec.axes, dims, name);
    }
    this.tensors = tensors;
    this.seq = new SequenceLengths(runtime, batch, this.capacity);
    this.kvLen = this.seq.tensor;
    this.lengths = this.seq.host;
  }

  private specFor(name: string, axesText: string, dims: Record<string, number>): KvCache['specs'][number] {
    const what = `KvCache tensor '${name}'`;
    if (!NAME.test(name)) fail('BAD_NAME', `${what}: names are letters, digits and '_'`);
    const axes = axesText.trim().split(/\s+/);
    if (axes[0] !== 'b') fail('BAD_INPUT', `${what} [${axes.join(' ')}]: the first axis must be the batch axis 'b'`);
    const at = axes.indexOf(this.token);
    if (at < 1) fail('BAD_INPUT', `${what} [${axes.join(' ')}]: no token axis '${this.token}' after 'b'`);
    if (at === axes.length - 1) fail('BAD_INPUT', `${what} [${axes.join(' ')}]: the token axis '${this.token}' needs a row axis after it`);
    for (const a of axes) {
      const n = own(dims, a);
      if (n === undefined || !Number.isSafeInteger(n) || n < 1) fail('BAD_SIZE', `${what}: axis '${a}' needs a positive integer size in dims, got ${n}`);
    }
    const rowLen = axes.slice(at + 1).reduce((p, a) => p * dims[a]!, 1);
    const dtype = this.dtype === 'f16' ? 'f16' : 'f32';
    if (this.dtype === 'f16' && rowLen % 2)
      fail('BAD_SIZE', `${what}: an f16 cache row is written in whole 4-byte words, so its length (${rowLen}) must be even`);
    if (this.dtype === 'int8' && rowLen % 4)
      fail('BAD_SIZE', `${what}: an int8 cache row is written in whole 4-byte words, so its length (${rowLen}) must be a multiple of 4`);
    const spec: CacheTensorSpec = { name, axes, dtype };
    const plan = this.dtype === 'int8' ? appendInt8Plan(spec, this.token, this.rowsAxis) : appendWordsPlan(spec, this.token, this.rowsAxis);
    return { name, spec, plan, dim: axes[axes.length - 1]! };
  }

  /** The tensors the attention reads: the cached ones and `kv_len`. */
  get inputs(): Record<string, DeviceTensor> {
    return { ...this.tensors, kv_len: this.kvLen };
  }

  /**
   * Writes new rows (each [b, …, s, …] as the cached tensor with `t` → `s`; f32 for int8)
   * at each sequence's length, in place, then advances the lengths on the device.
   * @example await cache.append({ k: kNew, v: vNew }, { session })
   */
  async append(rows: Record<string, RunValue>, opts: AppendOptions = {}): Promise<void> {
    const what = 'KvCache.append';
    if (rows === null || typeof rows !== 'object') fail('BAD_INPUT', `${what}: rows must be an object { ${this.specs.map((x) => x.name).join(', ')} }`);
    const unknown = Object.keys(rows).filter((n) => !this.specs.some((x) => x.name === n));
    if (unknown.length) fail('BAD_INPUT', `${what}: unknown tensor '${unknown[0]}' (the cache holds ${this.specs.map((x) => x.name).join(', ')})`);
    let s: number | undefined;
    for (const { name, spec } of this.specs) {
      if (rows[name] === undefined)
        fail('BAD_INPUT', `${what}: missing new rows '${name}' [${spec.axes.map((a) => (a === this.token ? this.rowsAxis : a)).join(' ')}]`);
      const n = rowsCount(what, name, rows[name]!, spec.axes, this.dims, this.token);
      if (s !== undefined && n !== s)
        fail('BAD_INPUT', `${what}: every tensor appends the same number of rows; '${this.specs[0]!.name}' has ${s}, '${name}' has ${n}`);
      s = n;
    }
    const { counts, value } = this.seq.counts(what, opts.counts, s!);
    const dims = { ...this.dims, [this.rowsAxis]: s! };
    const run = this.seq.runOptions(opts.session);
    for (const { name, plan } of this.specs) {
      const cache: Record<string, DeviceTensor> =
        this.dtype === 'int8' ? { cache_q: this.tensors[`${name}_q`]!, cache_scale: this.tensors[`${name}_scale`]! } : { cache: this.tensors[name]! };
      await runPlan(plan, { rows: rows[name]!, ...cache, kv_len: this.kvLen, counts: value }, sizesFor(plan, dims), run);
    }
    await this.seq.advanceBy(counts, value, run);
  }

  /**
   * Sets the lengths (default: all 0, an empty cache); the data past them is never read.
   * @example cache.reset()
   */
  reset(lengths: ArrayLike<number> = new Int32Array(this.lengths.length)): void {
    this.seq.set('KvCache.reset', lengths);
  }

  /**
   * Frees the cache's GPU memory.
   * @example cache.destroy()
   */
  destroy(): void {
    for (const t of Object.values(this.tensors)) t.destroy();
    this.seq.destroy();
  }
}

function layoutTensors(layout: KvCacheOptions['layout']): (readonly [string, string])[] {
  if (typeof layout === 'string') {
    const l = own(CACHE_LAYOUTS, layout);
    if (!l) fail('USAGE', `KvCache: unknown layout '${layout}' (layouts: ${Object.keys(CACHE_LAYOUTS).join(', ')}, or a list of [name, axes])`);
    return l.map(([n, a]) => [n, a] as const);
  }
  if (!Array.isArray(layout) || layout.length === 0) fail('USAGE', `KvCache: layout must be a layout name or a non-empty list of [name, axes] pairs`);
  return layout.map((x) => [String(x[0]), String(x[1])] as const);
}
