/**
 * The runtime: one device per adapter choice and process, with its pipeline cache and
 * buffer pool. Device creation is slow and leaks native memory in Dawn, so it is a
 * singleton that runs reuse; a lost device is reported once and then replaced.
 */
import { EinattnError } from '../errors.ts';
import { isSoftwareAdapter, parseAdapterChoice, type AdapterChoice, type AdapterKind } from '../platform/adapter.ts';
import type { PlanKernel } from './plan.ts';
import { chooseAdapter, platform } from '../platform/index.ts';

/** The device limits einattn requests explicitly and checks plans against. */
export const LIMIT_NAMES = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupSizeZ',
  'maxComputeWorkgroupsPerDimension',
  'maxStorageBuffersPerShaderStage',
  'maxBindGroups',
  'maxUniformBufferBindingSize',
] as const;

/** One of {@link LIMIT_NAMES}. */
export type LimitName = (typeof LIMIT_NAMES)[number];

/** Values of the limits einattn cares about. */
export type RuntimeLimits = Record<LimitName, number>;

/** Optional features requested whenever the adapter has them. */
export const OPTIONAL_FEATURES = ['shader-f16', 'timestamp-query', 'subgroups'] as const;

/** Options of {@link getRuntime}. */
export interface RuntimeOptions {
  /** which adapter to use; default: `EINATTN_ADAPTER` or 'auto' */
  adapter?: AdapterChoice;
  /**
   * Pretend the device has (at most) these limits. The device is shared; only the checks
   * and the workgroup layout of runs through the returned runtime see the lower values.
   */
  limitsOverride?: Partial<Record<LimitName, number>>;
  /**
   * Optional features (of {@link OPTIONAL_FEATURES}) to leave out when creating the device,
   * e.g. `['shader-f16']`: a real device without them, for exercising fallbacks. Such a
   * device is kept apart from the default one.
   */
  withoutFeatures?: readonly string[];
  /**
   * Run on this device, which the caller created and owns (in a browser, from
   * `navigator.gpu`; in Node, from the `webgpu` package). einattn never destroys it. Its
   * limits and features are used as they are: request the adapter's limits and the
   * optional features (shader-f16, timestamp-query, subgroups) when creating it.
   */
  device?: GPUDevice;
}

/** Why a device is gone. */
export interface LostInfo {
  reason: string;
  message: string;
}

/** Counters of a runtime's buffer pool, see {@link runtimeStats}. */
export interface RuntimeStats {
  /** GPU buffers created since the device was made */
  buffersCreated: number;
  bytesCreated: number;
  /** acquisitions served from the pool instead of a new buffer */
  buffersReused: number;
  /** idle buffers held for reuse */
  pooledBuffers: number;
  pooledBytes: number;
  /** compiled pipelines in the cache */
  pipelines: number;
  /** host ↔ device data moved since the device was made, see {@link TransferCounters} */
  transfers: TransferCounters;
}

/**
 * Data moved between host and device: tensor and input uploads, output and tensor
 * read-backs. Uniform sizes (a few bytes per kernel) are counted apart. A run whose
 * inputs and outputs are all device tensors adds nothing but uniform bytes.
 */
export interface TransferCounters {
  bytesUploaded: number;
  uploads: number;
  bytesReadBack: number;
  readbacks: number;
  uniformBytes: number;
}

// Idle pooled memory above this is freed rather than kept: lavapipe's "GPU memory" is
// the machine's RAM, so an unbounded pool would hold on to every size ever run.
const POOL_IDLE_CAP_BYTES = 256 * 1024 * 1024;

/**
 * GPU buffers keyed by (size, usage), so that running the same plan at the same sizes
 * again allocates nothing.
 */
export class BufferPool {
  private readonly idle = new Map<string, GPUBuffer[]>();
  private idleBytes = 0;
  private created = 0;
  private createdBytes = 0;
  private reused = 0;

  constructor(private readonly device: GPUDevice) {}

  /**
   * A buffer of exactly `size` bytes and `usage`, from the pool or new. Contents are stale.
   * @example const b = pool.acquire(1024, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST)
   */
  acquire(size: number, usage: number, label?: string): GPUBuffer {
    const list = this.idle.get(`${size}:${usage}`);
    const hit = list?.pop();
    if (hit) {
      this.idleBytes -= size;
      this.reused++;
      return hit;
    }
    this.created++;
    this.createdBytes += size;
    return this.device.createBuffer({ size, usage, label });
  }

  /**
   * Returns a buffer to the pool (or frees it when the pool holds enough idle memory).
   * @example pool.release(b)
   */
  release(buffer: GPUBuffer): void {
    if (this.idleBytes + buffer.size > POOL_IDLE_CAP_BYTES) {
      buffer.destroy();
      return;
    }
    const key = `${buffer.size}:${buffer.usage}`;
    let list = this.idle.get(key);
    if (!list) this.idle.set(key, (list = []));
    list.push(buffer);
    this.idleBytes += buffer.size;
  }

  /**
   * Frees every idle buffer.
   * @example pool.clear()
   */
  clear(): void {
    for (const list of this.idle.values()) for (const b of list) b.destroy();
    this.idle.clear();
    this.idleBytes = 0;
  }

  /**
   * Counters for tests and `einattn info`.
   * @example pool.stats().buffersCreated
   */
  stats(): Omit<RuntimeStats, 'pipelines' | 'transfers'> {
    let pooledBuffers = 0;
    for (const l of this.idle.values()) pooledBuffers += l.length;
    return { buffersCreated: this.created, bytesCreated: this.createdBytes, buffersReused: this.reused, pooledBuffers, pooledBytes: this.idleBytes };
  }
}

/** A device ready to run plans. Views made with `limitsOverride` share everything but `limits`. */
export interface Runtime {
  /** keep referenced while the device lives (Dawn crashes if it is collected first); absent for a device the user handed in */
  readonly gpu?: GPU;
  /** absent for a device the user handed in (`getRuntime({ device })`) */
  readonly adapter?: GPUAdapter;
  readonly device: GPUDevice;
  readonly kind: AdapterKind;
  /** why this adapter, e.g. "no hardware adapter found; using software Vulkan (lavapipe)" */
  readonly reason: string;
  /** 'vulkan', 'metal', 'd3d12' or 'opengles' under Dawn; 'browser' for `navigator.gpu`; 'user' for a device handed in */
  readonly backend: string;
  readonly info: GPUAdapterInfo;
  /** the limits plans are checked against: the device's, lowered by `limitsOverride` */
  readonly limits: Readonly<RuntimeLimits>;
  /** the limits the device was really created with */
  readonly deviceLimits: Readonly<RuntimeLimits>;
  /** the optional features the device was created with */
  readonly features: ReadonlySet<string>;
  /** compiled pipelines keyed by WGSL text, entry point and binding layout */
  readonly pipelines: Map<string, Promise<GPUComputePipeline>>;
  readonly pool: BufferPool;
  /** shared by all views of the device; `lost` is set once the device is gone */
  readonly health: { lost: LostInfo | null };
  /** host ↔ device byte counters, shared by all views of the device */
  readonly transfers: TransferCounters;
}

interface Entry {
  choice: AdapterChoice;
  /** the optional features left out, sorted and comma-joined ('' for none) */
  without: string;
  promise: Promise<Runtime>;
  runtime?: Runtime;
}

// One device per adapter choice rather than a single slot, because a process may
// compare, say, the Vulkan and the OpenGL ES paths side by side.
const entries: Entry[] = [];

function choiceOf(opts: RuntimeOptions): { choice: AdapterChoice; source: string } {
  if (opts.adapter !== undefined) return { choice: parseAdapterChoice(opts.adapter, 'adapter option'), source: 'adapter option' };
  return { choice: parseAdapterChoice(platform.env('EINATTN_ADAPTER'), 'EINATTN_ADAPTER'), source: 'EINATTN_ADAPTER' };
}

function withoutKey(opts: RuntimeOptions): string {
  const w = opts.withoutFeatures ?? [];
  if (!Array.isArray(w)) throw new EinattnError('USAGE', `withoutFeatures must be an array of feature names, got ${typeof w}`);
  for (const f of w)
    if (!(OPTIONAL_FEATURES as readonly string[]).includes(f))
      throw new EinattnError('USAGE', `withoutFeatures: '${String(f)}' is not an optional feature einattn requests (${OPTIONAL_FEATURES.join(', ')})`);
  return [...new Set(w)].sort().join(',');
}

async function createRuntime(choice: AdapterChoice, source: string, without: string): Promise<Runtime> {
  const { gpu, adapter, kind, reason, backend } = await chooseAdapter(choice, source);
  const deviceLimits = {} as RuntimeLimits;
  for (const name of LIMIT_NAMES) deviceLimits[name] = adapter.limits[name];
  // Without explicit limits Dawn hands out the spec minimums (e.g. 16 KiB workgroup
  // storage), far below what the adapter can do.
  const left = without.split(',');
  const requiredFeatures = OPTIONAL_FEATURES.filter((f) => adapter.features.has(f) && !left.includes(f));
  let device: GPUDevice;
  try {
    device = await adapter.requestDevice({
      requiredLimits: { ...deviceLimits },
      requiredFeatures: [...requiredFeatures] as GPUFeatureName[],
      label: 'einattn',
    });
  } catch (e) {
    throw new EinattnError('GPU', `requestDevice failed on ${adapter.info.description || adapter.info.device} (${reason}): ${(e as Error).message}`);
  }
  return runtimeAround(device, { gpu, adapter, kind, reason, backend, info: adapter.info, deviceLimits });
}

/** The parts of a runtime every device gets: loss watch, features, caches, pool, counters. */
function runtimeAround(device: GPUDevice, about: Pick<Runtime, 'gpu' | 'adapter' | 'kind' | 'reason' | 'backend' | 'info' | 'deviceLimits'>): Runtime {
  const health: { lost: LostInfo | null } = { lost: null };
  void device.lost.then((info) => {
    health.lost ??= { reason: String(info.reason), message: info.message || 'no message' };
  });
  return {
    ...about,
    device,
    limits: about.deviceLimits,
    features: new Set([...device.features].filter((f) => (OPTIONAL_FEATURES as readonly string[]).includes(f))),
    pipelines: new Map(),
    pool: new BufferPool(device),
    health,
    transfers: newTransfers(),
  };
}

const newTransfers = (): TransferCounters => ({ bytesUploaded: 0, uploads: 0, bytesReadBack: 0, readbacks: 0, uniformBytes: 0 });

// The runtimes around devices that users handed in, one per device.
const userRuntimes = new WeakMap<GPUDevice, Runtime>();

/** A runtime around a device the caller owns: its own limits and features, nothing of einattn's choosing. */
function userRuntime(device: GPUDevice): Runtime {
  if (!device || typeof device !== 'object' || typeof (device as GPUDevice).createBuffer !== 'function')
    throw new EinattnError('USAGE', `getRuntime({ device }): expected a GPUDevice, got ${device === null ? 'null' : typeof device}`);
  const known = userRuntimes.get(device);
  if (known && !known.health.lost) return known;
  const info =
    (device as GPUDevice & { adapterInfo?: GPUAdapterInfo }).adapterInfo ??
    ({ vendor: '', architecture: '', device: '', description: 'user device' } as GPUAdapterInfo);
  const limits = {} as RuntimeLimits;
  for (const name of LIMIT_NAMES) limits[name] = device.limits[name];
  const rt = runtimeAround(device, {
    kind: isSoftwareAdapter(info) ? 'software' : 'hardware',
    reason: 'a device handed in by the caller (getRuntime({ device }))',
    backend: 'user',
    info,
    deviceLimits: limits,
  });
  userRuntimes.set(device, rt);
  return rt;
}

function withLimits(base: Runtime, override: Partial<Record<LimitName, number>>): Runtime {
  const limits = { ...base.deviceLimits };
  for (const [name, value] of Object.entries(override)) {
    if (!(LIMIT_NAMES as readonly string[]).includes(name)) {
      throw new EinattnError('LIMIT', `limitsOverride: unknown limit '${name}' (known: ${LIMIT_NAMES.join(', ')})`);
    }
    if (value === undefined) continue;
    if (!Number.isSafeInteger(value) || value <= 0) throw new EinattnError('LIMIT', `limitsOverride.${name} must be a positive integer, got ${value}`);
    // Only ever lower: a plan that passes the check must also pass the device's.
    limits[name as LimitName] = Math.min(limits[name as LimitName], value);
  }
  return { ...base, limits };
}

function deviceLostError(rt: Runtime): EinattnError {
  const lost = rt.health.lost ?? { reason: 'unknown', message: 'the device stopped responding' };
  return new EinattnError(
    'DEVICE_LOST',
    `the GPU device (${rt.kind}: ${rt.info.description || rt.info.device}) was lost (${lost.reason}: ${lost.message}); the next getRuntime() or runPlan() creates a fresh device`,
  );
}

/**
 * Forgets a lost runtime (the next request creates a fresh device); returns the DEVICE_LOST error.
 * @example throw retireLostRuntime(rt)
 */
export function retireLostRuntime(rt: Runtime): EinattnError {
  const i = entries.findIndex((e) => e.runtime?.health === rt.health);
  if (i >= 0) entries.splice(i, 1);
  rt.pool.clear();
  return deviceLostError(rt);
}

async function baseRuntime(opts: RuntimeOptions, reportLoss: boolean): Promise<Runtime> {
  const { choice, source } = choiceOf(opts);
  const without = withoutKey(opts);
  for (;;) {
    const entry =
      entries.find((e) => e.choice === choice && e.without === without) ??
      (choice === 'auto' ? undefined : entries.find((e) => e.runtime?.kind === choice && e.without === without));
    if (!entry) break;
    let rt: Runtime;
    try {
      rt = await entry.promise;
    } catch (e) {
      // Creation failed: let the next call try again (a driver may have been installed).
      const i = entries.indexOf(entry);
      if (i >= 0) entries.splice(i, 1);
      throw e;
    }
    if (!rt.health.lost) return rt;
    // A run that was not given a runtime reports the loss once; getRuntime() just replaces it.
    if (reportLoss) throw retireLostRuntime(rt);
    retireLostRuntime(rt);
  }
  const entry: Entry = { choice, without, promise: createRuntime(choice, source, without) };
  entries.push(entry);
  entry.promise.then(
    (rt) => (entry.runtime = rt),
    () => {
      const i = entries.indexOf(entry);
      if (i >= 0) entries.splice(i, 1);
    },
  );
  return entry.promise;
}

/**
 * The shared runtime for an adapter choice, created on first use and replaced when its device is lost.
 * @example const rt = await getRuntime(); console.log(rt.kind, rt.reason)
 */
export async function getRuntime(opts: RuntimeOptions = {}): Promise<Runtime> {
  if (opts.device !== undefined && (opts.adapter !== undefined || opts.withoutFeatures !== undefined))
    throw new EinattnError('USAGE', 'getRuntime: pass either a device of your own or adapter/withoutFeatures, not both');
  const base = opts.device !== undefined ? userRuntime(opts.device) : await baseRuntime(opts, false);
  return opts.limitsOverride ? withLimits(base, opts.limitsOverride) : base;
}

/**
 * The runtime `runPlan` uses when none is given; throws DEVICE_LOST once for a lost device.
 * @example const rt = await defaultRuntime()
 */
export async function defaultRuntime(): Promise<Runtime> {
  return baseRuntime({}, true);
}

/**
 * Destroys every device einattn created and drops the references, so that Node can exit.
 * @example await closeRuntime()
 */
export async function closeRuntime(): Promise<void> {
  const all = entries.splice(0);
  for (const e of all) {
    let rt: Runtime;
    try {
      rt = await e.promise;
    } catch {
      continue;
    }
    rt.health.lost ??= { reason: 'destroyed', message: 'closeRuntime() was called' };
    rt.pool.clear();
    rt.pipelines.clear();
    rt.device.destroy();
  }
}

/**
 * Throws DEVICE_LOST when the runtime's device is gone.
 * @example assertAlive(rt)
 */
export function assertAlive(rt: Runtime): void {
  if (rt.health.lost) throw retireLostRuntime(rt);
}

/**
 * Buffer-pool and pipeline-cache counters of a runtime.
 * @example runtimeStats(rt).buffersCreated
 */
export function runtimeStats(rt: Runtime): RuntimeStats {
  return { ...rt.pool.stats(), pipelines: rt.pipelines.size, transfers: { ...rt.transfers } };
}

function formatCompileMessages(kernel: PlanKernel, messages: readonly GPUCompilationMessage[]): string {
  const lines = kernel.wgsl.split('\n');
  return messages
    .map((m) => {
      const src = m.lineNum > 0 ? lines[m.lineNum - 1] : undefined;
      const where = m.lineNum > 0 ? `${m.lineNum}:${m.linePos} ` : '';
      return `  ${where}${m.type}: ${m.message}${src !== undefined ? `\n    ${src.trim()}` : ''}`;
    })
    .join('\n');
}

async function compile(rt: Runtime, kernel: PlanKernel): Promise<GPUComputePipeline> {
  const { device } = rt;
  device.pushErrorScope('validation');
  const module = device.createShaderModule({ code: kernel.wgsl, label: kernel.name });
  const moduleError = device.popErrorScope();
  const info = await module.getCompilationInfo();
  const errors = info.messages.filter((m) => m.type === 'error');
  const scoped = await moduleError;
  if (errors.length || scoped) {
    throw new EinattnError(
      'GPU',
      `kernel '${kernel.name}' failed to compile:\n${errors.length ? formatCompileMessages(kernel, errors) : `  ${scoped?.message}`}`,
    );
  }
  device.pushErrorScope('validation');
  // An explicit layout rather than 'auto': 'auto' drops bindings the shader does not
  // use, and then the bind group built from the plan would not match it.
  const entries: GPUBindGroupLayoutEntry[] = kernel.bindings.map((b, i) => ({
    binding: i,
    visibility: GPUShaderStage.COMPUTE,
    buffer: { type: b.access === 'read' ? 'read-only-storage' : 'storage' },
  }));
  if (kernel.uniforms.length) entries.push({ binding: kernel.bindings.length, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'uniform' } });
  const bindGroupLayout = device.createBindGroupLayout({ entries, label: kernel.name });
  const pipeline = device.createComputePipeline({
    label: kernel.name,
    layout: device.createPipelineLayout({ bindGroupLayouts: [bindGroupLayout] }),
    compute: { module, entryPoint: kernel.name },
  });
  const err = await device.popErrorScope();
  if (err) throw new EinattnError('GPU', `kernel '${kernel.name}': pipeline creation failed: ${err.message.trim()}`);
  return pipeline;
}

/** Pipelines kept per device (least recently used evicted first). */
export const MAX_PIPELINES = 256;

/** The pipeline cache key: same name, binding layout and WGSL, same pipeline. */
function pipelineKey(kernel: PlanKernel): string {
  const layout = kernel.bindings.map((b) => b.access).join(',') + (kernel.uniforms.length ? '+u' : '');
  return `${kernel.name}\n${layout}\n${kernel.wgsl}`;
}

/**
 * The compute pipeline of a kernel, compiled once per device and cached.
 * @example const pipeline = await getPipeline(rt, plan.kernels[0])
 */
export function getPipeline(rt: Runtime, kernel: PlanKernel): Promise<GPUComputePipeline> {
  const key = pipelineKey(kernel);
  let p = rt.pipelines.get(key);
  if (p) {
    // least recently used last: a Map iterates in insertion order
    rt.pipelines.delete(key);
    rt.pipelines.set(key, p);
  } else {
    p = compile(rt, kernel);
    rt.pipelines.set(key, p);
    // bounded, so that a process compiling endless distinct kernels (a fuzzer, a
    // notebook) does not grow without limit; evicted pipelines are recompiled on demand
    while (rt.pipelines.size > MAX_PIPELINES) rt.pipelines.delete(rt.pipelines.keys().next().value!);
    // A failed compile is not cached: the caller may fix a feature or a driver and retry.
    p.catch(() => {
      if (rt.pipelines.get(key) === p) rt.pipelines.delete(key);
    });
  }
  return p;
}
