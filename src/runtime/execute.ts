/**
 * Running an {@link ExecPlan}: sizes, input and limit checks (all before any GPU work,
 * so that a bad call fails with a message instead of a device error), then one command
 * encoder with a compute pass per kernel and one mapped readback.
 */
import { EinattnError } from '../errors.ts';
import { allocHostArray, bytesPerElement, describeValue, hostArrayName, isHostArrayOf, type HostArray } from './dtypes.ts';
import { assertAlive, defaultRuntime, getPipeline, hasPipeline, retireLostRuntime, type LimitName, type Runtime } from './device.ts';
import type { ExecPlan, PlanBuffer, PlanKernel, StorageDType } from './plan.ts';
import { checkSubgroups } from './subgroups.ts';
import { bindSizes, evalSize, formatSizeExpr, type SizeMap } from './sizes.ts';

/** Options of {@link runPlan}. */
export interface RunOptions {
  /** measure per-kernel GPU time (timestamp queries, or wall clock per submit without them) */
  timing?: boolean;
  /** the runtime to run on; default: the shared one of {@link getRuntime} */
  runtime?: Runtime;
}

/** One output array of a run, row-major in the order of `axes`. */
export interface RunOutput {
  dtype: StorageDType;
  shape: number[];
  axes: string[];
  data: HostArray;
}

/** What {@link runPlan} returns. */
export interface RunResult {
  outputs: Record<string, RunOutput>;
  /** per kernel, in plan order; only with `timing: true` */
  kernelMs?: number[];
  /** wall-clock ms of the run: upload, dispatch, wait, readback (and first-run compilation) */
  totalMs: number;
}

/** A plan buffer with its sizes evaluated. */
export interface ResolvedBuffer {
  name: string;
  dtype: StorageDType;
  role: PlanBuffer['role'];
  axes: string[];
  shape: number[];
  count: number;
  /** bytes of data */
  bytes: number;
  /** bytes of the GPU buffer: a multiple of 4, at least 4 */
  allocBytes: number;
}

/** One kernel ready to dispatch. */
export interface Launch {
  kernel: PlanKernel;
  /** the 1-D workgroup count of the plan */
  count: number;
  /** that count laid over x, y, z */
  grid: [number, number, number];
  /** the uniform struct, padded to 16 bytes; null when the kernel has none */
  uniforms: Uint32Array | null;
}

const STORAGE_USAGE = () => GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC;
const FEATURE_OF_ENABLE: Record<string, string> = { f16: 'shader-f16', subgroups: 'subgroups' };

const roundUp = (n: number, m: number) => Math.ceil(n / m) * m;

/**
 * Lays a 1-D workgroup count over x, y, z with no dimension above `maxPerDim`.
 * @example layoutWorkgroups(100_000, 65535) // [65535, 2, 1]
 */
export function layoutWorkgroups(count: number, maxPerDim: number): [number, number, number] {
  if (count <= 0) return [0, 1, 1];
  const x = Math.min(count, maxPerDim);
  const y = Math.min(Math.ceil(count / x), maxPerDim);
  const z = Math.ceil(count / (x * y));
  return [x, y, z];
}

/**
 * Evaluates the shapes of a plan's buffers at the given sizes.
 * @example resolveBuffers(plan, bindSizes(plan, { s: 8 }))[0].shape // [8, 64]
 */
export function resolveBuffers(plan: ExecPlan, sizes: SizeMap): ResolvedBuffer[] {
  return plan.buffers.map((b) => {
    const shape = b.shape.map((e) => evalSize(e, sizes));
    const count = shape.reduce((a, n) => a * n, 1);
    const bytes = count * bytesPerElement(b.dtype);
    return { name: b.name, dtype: b.dtype, role: b.role, axes: b.axes, shape, count, bytes, allocBytes: Math.max(4, roundUp(bytes, 4)) };
  });
}

function shapeText(b: ResolvedBuffer): string {
  const dims = b.axes.length === b.shape.length ? b.shape.map((n, i) => `${b.axes[i]}=${n}`) : b.shape.map(String);
  return `${b.dtype} [${dims.join(', ')}]`;
}

/**
 * Checks the caller's arrays against the plan's inputs; BAD_INPUT names the input, its dtype and shape.
 * @example checkInputs(plan, resolveBuffers(plan, sizes), { q, k, v })
 */
export function checkInputs(plan: ExecPlan, buffers: ResolvedBuffer[], inputs: Record<string, unknown>): void {
  const ins = buffers.filter((b) => b.role === 'input');
  const expected = () => ins.map((b) => `${b.name}: ${shapeText(b)}`).join('; ') || 'none';
  if (inputs === null || typeof inputs !== 'object' || Array.isArray(inputs)) {
    throw new EinattnError('BAD_INPUT', `plan '${plan.name}' takes its inputs as an object { name: array }, got ${describeValue(inputs)} (inputs: ${expected()})`);
  }
  for (const name of Object.keys(inputs)) {
    const b = buffers.find((x) => x.name === name);
    if (!b) throw new EinattnError('BAD_INPUT', `unknown input '${name}' for plan '${plan.name}' (inputs: ${expected()})`);
    if (b.role !== 'input') throw new EinattnError('BAD_INPUT', `'${name}' is ${b.role === 'output' ? 'an output' : 'a temporary'} of plan '${plan.name}', not an input (inputs: ${expected()})`);
  }
  for (const b of ins) {
    const v = inputs[b.name];
    const want = `${shapeText(b)} = ${b.count} elements as a ${hostArrayName(b.dtype)}`;
    if (v === undefined) throw new EinattnError('BAD_INPUT', `missing input '${b.name}' of plan '${plan.name}': expected ${want}`);
    if (!isHostArrayOf(v, b.dtype)) throw new EinattnError('BAD_INPUT', `input '${b.name}' expects ${want}, got ${describeValue(v)}`);
    if (v.length !== b.count) {
      throw new EinattnError('BAD_INPUT', `input '${b.name}' expects ${want}, got ${v.constructor.name} of length ${v.length}`);
    }
  }
}

/**
 * Checks that every gather index held in an input lies in its axis; a shader cannot
 * report a bad index, so INDEX_RANGE is raised here, naming the input, position and range.
 * @example checkIndices(plan, resolveBuffers(plan, sizes), { table }, sizes)
 */
export function checkIndices(plan: ExecPlan, buffers: ResolvedBuffer[], inputs: Record<string, HostArray>, sizes: SizeMap): void {
  for (const c of plan.indexChecks ?? []) {
    const data = inputs[c.buffer];
    const b = buffers.find((x) => x.name === c.buffer);
    if (!data || !b) continue;
    const limit = evalSize(c.size, sizes);
    for (let i = 0; i < data.length; i++) {
      const v = data[i]!;
      if (v >= 0 && v < limit) continue;
      let rest = i;
      const at = b.shape.map((n) => 0 * n);
      for (let d = b.shape.length - 1; d >= 0; d--) { at[d] = rest % b.shape[d]!; rest = Math.floor(rest / b.shape[d]!); }
      throw new EinattnError('INDEX_RANGE', `${c.what}: input '${c.buffer}' has ${v} at [${b.axes.map((a, d) => `${a}=${at[d]}`).join(' ')}], outside 0..${limit - 1}`);
    }
  }
}

function deviceName(rt: Runtime): string {
  return `${rt.kind} adapter ${rt.info.description || rt.info.device}`;
}

function limitText(rt: Runtime, name: LimitName): string {
  const v = rt.limits[name];
  const real = rt.deviceLimits[name];
  return `${name} = ${v}${v !== real ? ` (lowered by limitsOverride from ${real})` : ''} on the ${deviceName(rt)}`;
}

function requiredFeatures(kernel: PlanKernel): string[] {
  const need = new Set(kernel.features ?? []);
  // A shader that enables an extension needs the feature even if the plan forgot to say so;
  // catching it here gives a clearer message than the compiler's.
  for (const m of kernel.wgsl.matchAll(/^\s*enable\s+([\w\s,]+);/gm)) {
    for (const ext of m[1].split(',').map((s) => s.trim())) if (FEATURE_OF_ENABLE[ext]) need.add(FEATURE_OF_ENABLE[ext]);
  }
  return [...need];
}

/**
 * Checks buffers and kernels against the runtime's limits and features; returns each kernel's launch.
 * @example const launches = checkLimits(plan, resolveBuffers(plan, sizes), sizes, rt)
 */
export function checkLimits(plan: ExecPlan, buffers: ResolvedBuffer[], sizes: SizeMap, rt: Runtime): Launch[] {
  const L = rt.limits;
  for (const b of buffers) {
    if (b.allocBytes > L.maxBufferSize) {
      throw new EinattnError('LIMIT', `buffer '${b.name}' (${b.role}, ${shapeText(b)}) needs ${b.allocBytes} bytes, over ${limitText(rt, 'maxBufferSize')}`);
    }
    if (b.allocBytes > L.maxStorageBufferBindingSize) {
      throw new EinattnError('LIMIT', `buffer '${b.name}' (${b.role}, ${shapeText(b)}) needs ${b.allocBytes} bytes, over ${limitText(rt, 'maxStorageBufferBindingSize')}; use smaller sizes or split the work`);
    }
  }
  return plan.kernels.map((kernel) => {
    const k = `kernel '${kernel.name}' of plan '${plan.name}'`;
    for (const f of requiredFeatures(kernel)) {
      if (!rt.features.has(f)) {
        // To the caller a missing shader-f16 means "this dtype does not run here".
        const code = f === 'shader-f16' ? 'DTYPE' : 'LIMIT';
        const hint = f === 'shader-f16' ? "; f16 storage and f16 compute need it, use f32 buffers on this adapter (compile()'s f16Fallback: 'f32' does that for you)" : '';
        throw new EinattnError(code, `${k} needs the WebGPU feature '${f}', which the ${deviceName(rt)} does not have${hint} (features: ${[...rt.features].join(', ') || 'none'})`);
      }
    }
    for (const b of kernel.bindings) {
      if (!buffers.some((x) => x.name === b.buffer)) {
        throw new EinattnError('LOWERING', `${k} binds buffer '${b.buffer}', which the plan does not declare (buffers: ${buffers.map((x) => x.name).join(', ')})`);
      }
    }
    const ws = kernel.workgroupSize;
    if (!Array.isArray(ws) || ws.length !== 3 || !ws.every((n) => Number.isSafeInteger(n) && n > 0)) {
      throw new EinattnError('LOWERING', `${k} has workgroupSize ${JSON.stringify(ws)}; it must be three positive integers`);
    }
    (['X', 'Y', 'Z'] as const).forEach((axis, i) => {
      const name = `maxComputeWorkgroupSize${axis}` as const;
      if (ws[i] > L[name]) throw new EinattnError('LIMIT', `${k} has workgroup size ${axis.toLowerCase()} = ${ws[i]} (workgroupSize [${ws.join(', ')}]), over ${limitText(rt, name)}`);
    });
    const invocations = ws[0] * ws[1] * ws[2];
    if (invocations > L.maxComputeInvocationsPerWorkgroup) {
      throw new EinattnError('LIMIT', `${k} has ${invocations} invocations per workgroup (workgroupSize [${ws.join(', ')}]), over ${limitText(rt, 'maxComputeInvocationsPerWorkgroup')}`);
    }
    if (kernel.workgroupStorageBytes > L.maxComputeWorkgroupStorageSize) {
      throw new EinattnError('LIMIT', `${k} uses ${kernel.workgroupStorageBytes} bytes of workgroup storage, over ${limitText(rt, 'maxComputeWorkgroupStorageSize')}; choose a schedule with smaller tiles (for flash kernels: fewer rows or kvLanes: 1, which uses no workgroup memory)`);
    }
    if (kernel.bindings.length > L.maxStorageBuffersPerShaderStage) {
      throw new EinattnError('LIMIT', `${k} binds ${kernel.bindings.length} storage buffers, over ${limitText(rt, 'maxStorageBuffersPerShaderStage')}`);
    }
    let uniforms: Uint32Array | null = null;
    if (kernel.uniforms.length) {
      uniforms = new Uint32Array(roundUp(kernel.uniforms.length, 4));
      if (uniforms.byteLength > L.maxUniformBufferBindingSize) {
        throw new EinattnError('LIMIT', `${k} has ${kernel.uniforms.length} uniforms (${uniforms.byteLength} bytes), over ${limitText(rt, 'maxUniformBufferBindingSize')}`);
      }
      kernel.uniforms.forEach((name, i) => {
        const v = evalSize(name, sizes);
        if (v < 0 || v > 0xffffffff) throw new EinattnError('LIMIT', `${k}: uniform '${name}' = ${v} does not fit in a u32`);
        uniforms![i] = v;
      });
    }
    const count = evalSize(kernel.workgroups, sizes);
    if (count < 0) throw new EinattnError('BAD_SIZE', `${k}: workgroup count ${formatSizeExpr(kernel.workgroups)} = ${count} is negative`);
    const perDim = L.maxComputeWorkgroupsPerDimension;
    if (count > perDim ** 3) {
      throw new EinattnError('LIMIT', `${k} needs ${count} workgroups (${formatSizeExpr(kernel.workgroups)}), over ${perDim}^3 = ${perDim ** 3} from ${limitText(rt, 'maxComputeWorkgroupsPerDimension')}`);
    }
    return { kernel, count, grid: layoutWorkgroups(count, perDim), uniforms };
  });
}

/** Runs `fn` inside validation and out-of-memory error scopes; the promise yields the first error. */
function scoped<T>(device: GPUDevice, fn: () => T): [T, Promise<GPUError | null>] {
  device.pushErrorScope('out-of-memory');
  device.pushErrorScope('validation');
  let value: T;
  let validation: Promise<GPUError | null>;
  let oom: Promise<GPUError | null>;
  try {
    value = fn();
  } finally {
    validation = device.popErrorScope();
    oom = device.popErrorScope();
  }
  return [value, Promise.all([validation, oom]).then(([v, o]) => v ?? o)];
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

// Below this an estimate is not worth a timer: the spin costs less than a late wake-up.
const MIN_SLEEP_MS = 4;
// Sleep for this fraction of the last run's time, so a faster run is barely delayed.
const SLEEP_FRACTION = 0.8;
const MAX_ESTIMATES = 1024;

async function lostOrNull(rt: Runtime): Promise<boolean> {
  if (rt.health.lost) return true;
  // A lost device rejects its pending map at once but resolves `lost` a moment later.
  await Promise.race([rt.device.lost, sleep(200)]);
  return rt.health.lost !== null;
}

/**
 * Runs a plan: checks sizes, inputs and limits, uploads, dispatches every kernel, reads outputs back.
 * @example const { outputs } = await runPlan(plan, { q, k, v }, { s: 128, t: 128 }); outputs.o.data
 */
export async function runPlan(plan: ExecPlan, inputs: Record<string, HostArray>, dims: Record<string, number>, opts: RunOptions = {}): Promise<RunResult> {
  const rt = opts.runtime ?? (await defaultRuntime());
  assertAlive(rt);
  const t0 = performance.now();
  const sizes = bindSizes(plan, dims);
  const buffers = resolveBuffers(plan, sizes);
  checkInputs(plan, buffers, inputs);
  checkIndices(plan, buffers, inputs, sizes);
  const launches = checkLimits(plan, buffers, sizes, rt);
  await checkSubgroups(plan, rt);
  // lavapipe compiles a pipeline at its first dispatch: such a run's time is no estimate of the next
  const compiles = plan.kernels.some((k) => !hasPipeline(rt, k));
  const pipelines = await Promise.all(plan.kernels.map((k) => getPipeline(rt, k)));
  assertAlive(rt);

  const { device, pool } = rt;
  const timestamps = opts.timing === true && rt.features.has('timestamp-query');
  const wallPerKernel = opts.timing === true && !timestamps;
  const outputs = buffers.filter((b) => b.role === 'output');
  const stagingOffsets: number[] = [];
  let stagingBytes = 0;
  for (const b of outputs) {
    stagingOffsets.push(stagingBytes);
    stagingBytes += b.allocBytes;
  }
  const tsOffset = roundUp(stagingBytes, 8);
  const tsBytes = timestamps ? 16 * launches.length : 0;
  stagingBytes = Math.max(4, tsOffset + tsBytes);

  const acquired: GPUBuffer[] = [];
  const acquire = (size: number, usage: number, label: string) => {
    const b = pool.acquire(size, usage, label);
    acquired.push(b);
    return b;
  };
  let querySet: GPUQuerySet | undefined;
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    querySet?.destroy();
    // Buffers of a lost device are dead; the pool was already emptied.
    if (!rt.health.lost) for (const b of acquired) pool.release(b);
  };

  try {
    const [encoded, encodeError] = scoped(device, () => {
      const gpuBuf = new Map<string, GPUBuffer>();
      for (const b of buffers) gpuBuf.set(b.name, acquire(b.allocBytes, STORAGE_USAGE(), `${plan.name}.${b.name}`));
      const staging = acquire(stagingBytes, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, `${plan.name}.readback`);
      for (const b of buffers) {
        if (b.role !== 'input' || b.bytes === 0) continue;
        const data = inputs[b.name];
        let bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
        if (b.bytes !== b.allocBytes) {
          // writeBuffer moves whole 4-byte words; an odd-length f16 array needs padding.
          const padded = new Uint8Array(b.allocBytes);
          padded.set(bytes);
          bytes = padded;
        }
        device.queue.writeBuffer(gpuBuf.get(b.name)!, 0, bytes);
      }
      if (timestamps) querySet = device.createQuerySet({ type: 'timestamp', count: 2 * launches.length, label: `${plan.name}.timestamps` });

      const commands: GPUCommandBuffer[] = [];
      let enc = device.createCommandEncoder({ label: plan.name });
      // Kernels may accumulate into outputs and temps, and pooled buffers hold old data.
      for (const b of buffers) if (b.role !== 'input') enc.clearBuffer(gpuBuf.get(b.name)!);
      launches.forEach((launch, i) => {
        const { kernel } = launch;
        const entries: GPUBindGroupEntry[] = kernel.bindings.map((bd, j) => ({ binding: j, resource: { buffer: gpuBuf.get(bd.buffer)! } }));
        if (launch.uniforms) {
          const ub = acquire(launch.uniforms.byteLength, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST, `${kernel.name}.uniforms`);
          device.queue.writeBuffer(ub, 0, launch.uniforms);
          entries.push({ binding: kernel.bindings.length, resource: { buffer: ub } });
        }
        const bindGroup = device.createBindGroup({ layout: pipelines[i].getBindGroupLayout(0), entries, label: kernel.name });
        const pass = enc.beginComputePass({
          label: kernel.name,
          ...(querySet ? { timestampWrites: { querySet, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 } } : {}),
        });
        pass.setPipeline(pipelines[i]);
        pass.setBindGroup(0, bindGroup);
        if (launch.count > 0) pass.dispatchWorkgroups(...launch.grid);
        pass.end();
        if (wallPerKernel) {
          commands.push(enc.finish());
          enc = device.createCommandEncoder({ label: plan.name });
        }
      });
      outputs.forEach((b, i) => enc.copyBufferToBuffer(gpuBuf.get(b.name)!, 0, staging, stagingOffsets[i], b.allocBytes));
      if (querySet) {
        const resolve = acquire(tsBytes, GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC, `${plan.name}.timestamps`);
        enc.resolveQuerySet(querySet, 0, 2 * launches.length, resolve, 0);
        enc.copyBufferToBuffer(resolve, 0, staging, tsOffset, tsBytes);
      }
      commands.push(enc.finish());
      if (!wallPerKernel) device.queue.submit(commands);
      return { staging, commands };
    });
    const { staging, commands } = encoded;

    let kernelMs: number[] | undefined;
    if (wallPerKernel) {
      kernelMs = [];
      for (let i = 0; i < commands.length; i++) {
        const t = performance.now();
        const [, submitError] = scoped(device, () => device.queue.submit([commands[i]]));
        await device.queue.onSubmittedWorkDone();
        if (i < launches.length) kernelMs.push(performance.now() - t);
        await throwGpuError(rt, plan, await submitError);
      }
    }
    await throwGpuError(rt, plan, await encodeError);

    // While mapAsync is pending Dawn's Node binding polls on every tick, keeping a core
    // busy that a CPU adapter would rather use; sleep through most of the expected time.
    const estimateKey = `${plan.name}|${plan.dynamicSizes.map((s) => sizes[s]).join(',')}|${opts.timing ? 't' : ''}`;
    const tSubmit = performance.now();
    const estimate = rt.estimates.get(estimateKey) ?? 0;
    if (!wallPerKernel && estimate >= MIN_SLEEP_MS) await sleep(estimate * SLEEP_FRACTION);
    try {
      await staging.mapAsync(GPUMapMode.READ);
    } catch (e) {
      if (await lostOrNull(rt)) throw retireLostRuntime(rt);
      // A buffer whose map failed is in no state to be handed to the next run.
      acquired.splice(acquired.indexOf(staging), 1);
      staging.destroy();
      throw new EinattnError('GPU', `plan '${plan.name}': reading the outputs back failed: ${(e as Error).message || (e as Error).name}`);
    }
    // Sizes that change every call (a growing KV length) would grow this map without bound.
    if (rt.estimates.size >= MAX_ESTIMATES) rt.estimates.clear();
    if (!compiles) rt.estimates.set(estimateKey, performance.now() - tSubmit);

    const mapped = staging.getMappedRange();
    const result: Record<string, RunOutput> = {};
    outputs.forEach((b, i) => {
      const data = allocHostArray(b.dtype, b.count);
      new Uint8Array(data.buffer).set(new Uint8Array(mapped, stagingOffsets[i], b.bytes));
      result[b.name] = { dtype: b.dtype, shape: b.shape, axes: [...b.axes], data };
    });
    if (timestamps) {
      const ts = new BigInt64Array(mapped, tsOffset, 2 * launches.length);
      kernelMs = launches.map((_, i) => Math.max(0, Number(ts[2 * i + 1] - ts[2 * i]) / 1e6));
    }
    staging.unmap();
    release();
    const out: RunResult = { outputs: result, totalMs: performance.now() - t0 };
    if (kernelMs) out.kernelMs = kernelMs;
    return out;
  } catch (e) {
    if (!(e instanceof EinattnError) && (await lostOrNull(rt))) throw retireLostRuntime(rt);
    throw e;
  } finally {
    release();
  }
}

async function throwGpuError(rt: Runtime, plan: ExecPlan, err: GPUError | null): Promise<void> {
  if (!err) return;
  if (rt.health.lost) throw retireLostRuntime(rt);
  const kind = err.constructor?.name === 'GPUOutOfMemoryError' ? 'out of memory' : 'validation error';
  throw new EinattnError('GPU', `plan '${plan.name}' (kernels ${plan.kernels.map((k) => k.name).join(', ')}): GPU ${kind} while dispatching: ${err.message.trim()}`);
}
