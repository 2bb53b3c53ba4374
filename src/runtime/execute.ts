/**
 * Running an {@link ExecPlan}: sizes, input and limit checks (all before any GPU work,
 * so that a bad call fails with a message instead of a device error), then one command
 * encoder with a compute pass per kernel and one mapped readback.
 */
import { EinattnError } from '../errors.ts';
import { bytesPerElement, describeValue, hostArrayName, hostArrayOver, isHostArrayOf, type HostArray } from './dtypes.ts';
import { assertAlive, defaultRuntime, getPipeline, type LimitName, type Runtime } from './device.ts';
import { Session } from './session.ts';
import { DeviceTensor, TENSOR_USAGE, writeWords } from './tensor.ts';
import type { ExecPlan, PlanBuffer, PlanKernel, StorageDType } from './plan.ts';
import { checkIndexRange } from './index-checks.ts';
import { own } from './own.ts';
import { checkSubgroups } from './subgroups.ts';
import { bindSizes, evalSize, formatSizeExpr, type SizeMap } from './sizes.ts';

/** An input of a run: a host array (uploaded for this run) or a {@link DeviceTensor} (bound as it is). */
export type RunValue = HostArray | DeviceTensor;

/** Options of {@link runPlan}. */
export interface RunOptions {
  /** measure per-kernel GPU time (timestamp queries, or wall clock per submit without them) */
  timing?: boolean;
  /** the runtime to run on; default: the shared one of {@link getRuntime} (or the session's) */
  runtime?: Runtime;
  /**
   * where the outputs go: 'host' (default) reads them back into `outputs`; 'device' leaves
   * them on the GPU as new tensors in `tensors`, with no read-back
   */
  outputs?: 'host' | 'device';
  /** write these outputs into the caller's tensors (kept on the device, returned in `tensors`) */
  into?: Record<string, DeviceTensor>;
  /**
   * record the run into this session instead of submitting it: outputs stay on the device
   * (`tensors`), and timings come from `session.submit()`
   */
  session?: Session;
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
  /** outputs read back to the host */
  outputs: Record<string, RunOutput>;
  /** outputs left on the device (`outputs: 'device'`, `into`, or a session) */
  tensors: Record<string, DeviceTensor>;
  /** per kernel, in plan order; only with `timing: true` */
  kernelMs?: number[];
  /** wall-clock ms of the run: upload, dispatch, wait, readback (and first-run compilation); with a session, recording only */
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
 * @example const plan = compile(graph('twice', { y: input('x', 's d').mul(2) }, { sizes: { d: 64 } })).plan; resolveBuffers(plan, bindSizes(plan, { s: 8 }))[0].shape // [8, 64]
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
export function checkInputs(plan: ExecPlan, buffers: ResolvedBuffer[], inputs: Record<string, unknown>, rt?: Runtime): void {
  const ins = buffers.filter((b) => b.role === 'input');
  const expected = () => ins.map((b) => `${b.name}: ${shapeText(b)}`).join('; ') || 'none';
  if (inputs === null || typeof inputs !== 'object' || Array.isArray(inputs)) {
    throw new EinattnError(
      'BAD_INPUT',
      `plan '${plan.name}' takes its inputs as an object { name: array }, got ${describeValue(inputs)} (inputs: ${expected()})`,
    );
  }
  for (const name of Object.keys(inputs)) {
    const b = buffers.find((x) => x.name === name);
    if (!b) throw new EinattnError('BAD_INPUT', `unknown input '${name}' for plan '${plan.name}' (inputs: ${expected()})`);
    if (b.role !== 'input')
      throw new EinattnError(
        'BAD_INPUT',
        `'${name}' is ${b.role === 'output' ? 'an output' : 'a temporary'} of plan '${plan.name}', not an input (inputs: ${expected()})`,
      );
  }
  for (const b of ins) {
    const v = own(inputs, b.name);
    const want = `${shapeText(b)} = ${b.count} elements as a ${hostArrayName(b.dtype)}`;
    if (v === undefined) throw new EinattnError('BAD_INPUT', `missing input '${b.name}' of plan '${plan.name}': expected ${want}`);
    if (v instanceof DeviceTensor) {
      checkTensor(plan, b, v, `input '${b.name}'`, rt);
      continue;
    }
    if (!isHostArrayOf(v, b.dtype)) throw new EinattnError('BAD_INPUT', `input '${b.name}' expects ${want}, got ${describeValue(v)}`);
    if (v.length !== b.count) {
      throw new EinattnError('BAD_INPUT', `input '${b.name}' expects ${want}, got ${v.constructor.name} of length ${v.length}`);
    }
  }
}

/**
 * Checks a device tensor against a plan buffer: dtype, shape, device, and that it is alive.
 * @example checkTensor(plan, buffers[0], k, "input 'k'", rt)
 */
export function checkTensor(plan: ExecPlan, b: ResolvedBuffer, t: DeviceTensor, what: string, rt?: Runtime): void {
  t.check(`plan '${plan.name}', ${what}`);
  if (rt && t.runtime.device !== rt.device)
    throw new EinattnError(
      'BAD_INPUT',
      `plan '${plan.name}', ${what}: tensor ${t.describe()} lives on another device than the run's (${rt.kind} ${rt.info.description || rt.info.device}); upload it to the run's runtime`,
    );
  const same = t.dtype === b.dtype && t.shape.length === b.shape.length && t.shape.every((n, i) => n === b.shape[i]);
  if (!same) throw new EinattnError('BAD_INPUT', `plan '${plan.name}', ${what} expects ${shapeText(b)}, got device tensor ${t.describe()}`);
}

/**
 * Checks the `into` tensors of a run: outputs of the plan, matching, writable, and aliasing no input.
 * @example checkInto(plan, buffers, { o }, { q, k, v }, rt)
 */
export function checkInto(
  plan: ExecPlan,
  buffers: ResolvedBuffer[],
  into: Record<string, unknown>,
  inputs: Record<string, unknown>,
  rt: Runtime,
): Record<string, DeviceTensor> {
  if (into === null || typeof into !== 'object')
    throw new EinattnError('BAD_INPUT', `plan '${plan.name}': 'into' must be an object { output: tensor }, got ${describeValue(into)}`);
  const outs = buffers.filter((b) => b.role === 'output');
  const seen = new Map<GPUBuffer, string>();
  for (const v of Object.values(inputs)) if (v instanceof DeviceTensor) seen.set(v.buffer, `input tensor ${v.describe()}`);
  for (const [name, t] of Object.entries(into)) {
    const b = outs.find((x) => x.name === name);
    if (!b)
      throw new EinattnError(
        'BAD_INPUT',
        `plan '${plan.name}': 'into' names '${name}', which is not an output (outputs: ${outs.map((x) => x.name).join(', ')})`,
      );
    if (!(t instanceof DeviceTensor)) throw new EinattnError('BAD_INPUT', `plan '${plan.name}': into.${name} must be a device tensor, got ${describeValue(t)}`);
    checkTensor(plan, b, t, `output '${name}'`, rt);
    if (!(t.buffer.usage & GPUBufferUsage.COPY_DST))
      throw new EinattnError('BAD_INPUT', `plan '${plan.name}': into.${name} ${t.describe()} lacks COPY_DST usage, which a run needs to clear its outputs`);
    const other = seen.get(t.buffer);
    if (other)
      throw new EinattnError(
        'BAD_INPUT',
        `plan '${plan.name}': into.${name} ${t.describe()} is the same buffer as ${other}; a kernel cannot read and write one buffer, pass another tensor`,
      );
    seen.set(t.buffer, `into.${name}`);
  }
  return into as Record<string, DeviceTensor>;
}

/**
 * Checks that every gather index held in an input lies in its axis; a shader cannot
 * report a bad index, so INDEX_RANGE is raised here, naming the input, position and range.
 * @example checkIndices(plan, resolveBuffers(plan, sizes), { table }, sizes)
 */
export function checkIndices(plan: ExecPlan, buffers: ResolvedBuffer[], inputs: Record<string, HostArray>, sizes: SizeMap): void {
  for (const c of plan.indexChecks ?? []) checkIndexRange(c, buffers, (name) => own(inputs, name), sizes);
}

function deviceName(rt: Runtime): string {
  return `${rt.kind} adapter ${rt.info.description || rt.info.device}`;
}

function limitText(rt: Runtime, name: LimitName): string {
  const v = rt.limits[name];
  const real = rt.deviceLimits[name];
  return `${name} = ${v}${v !== real ? ` (lowered by limitsOverride from ${real})` : ''} on the ${deviceName(rt)}`;
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
      throw new EinattnError(
        'LIMIT',
        `buffer '${b.name}' (${b.role}, ${shapeText(b)}) needs ${b.allocBytes} bytes, over ${limitText(rt, 'maxStorageBufferBindingSize')}; use smaller sizes or split the work`,
      );
    }
  }
  return plan.kernels.map((kernel) => {
    const k = `kernel '${kernel.name}' of plan '${plan.name}'`;
    // the plan lists them (the lowering sets them from the kernel IR); nothing reads the WGSL text
    for (const f of kernel.features ?? []) {
      if (!rt.features.has(f)) {
        // To the caller a missing shader-f16 means "this dtype does not run here".
        const code = f === 'shader-f16' ? 'DTYPE' : 'LIMIT';
        const hint =
          f === 'shader-f16' ? "; f16 storage and f16 compute need it, use f32 buffers on this adapter (compile()'s f16Fallback: 'f32' does that for you)" : '';
        throw new EinattnError(
          code,
          `${k} needs the WebGPU feature '${f}', which the ${deviceName(rt)} does not have${hint} (features: ${[...rt.features].join(', ') || 'none'})`,
        );
      }
    }
    for (const b of kernel.bindings) {
      if (!buffers.some((x) => x.name === b.buffer)) {
        throw new EinattnError(
          'LOWERING',
          `${k} binds buffer '${b.buffer}', which the plan does not declare (buffers: ${buffers.map((x) => x.name).join(', ')})`,
        );
      }
    }
    const ws = kernel.workgroupSize;
    if (!Array.isArray(ws) || ws.length !== 3 || !ws.every((n) => Number.isSafeInteger(n) && n > 0)) {
      throw new EinattnError('LOWERING', `${k} has workgroupSize ${JSON.stringify(ws)}; it must be three positive integers`);
    }
    (['X', 'Y', 'Z'] as const).forEach((axis, i) => {
      const name = `maxComputeWorkgroupSize${axis}` as const;
      if (ws[i] > L[name])
        throw new EinattnError(
          'LIMIT',
          `${k} has workgroup size ${axis.toLowerCase()} = ${ws[i]} (workgroupSize [${ws.join(', ')}]), over ${limitText(rt, name)}`,
        );
    });
    const invocations = ws[0] * ws[1] * ws[2];
    if (invocations > L.maxComputeInvocationsPerWorkgroup) {
      throw new EinattnError(
        'LIMIT',
        `${k} has ${invocations} invocations per workgroup (workgroupSize [${ws.join(', ')}]), over ${limitText(rt, 'maxComputeInvocationsPerWorkgroup')}`,
      );
    }
    if (kernel.workgroupStorageBytes > L.maxComputeWorkgroupStorageSize) {
      throw new EinattnError(
        'LIMIT',
        `${k} uses ${kernel.workgroupStorageBytes} bytes of workgroup storage, over ${limitText(rt, 'maxComputeWorkgroupStorageSize')}; choose a schedule with smaller tiles (for flash kernels: fewer rows or kvLanes: 1, which uses no workgroup memory)`,
      );
    }
    if (kernel.bindings.length > L.maxStorageBuffersPerShaderStage) {
      throw new EinattnError('LIMIT', `${k} binds ${kernel.bindings.length} storage buffers, over ${limitText(rt, 'maxStorageBuffersPerShaderStage')}`);
    }
    let uniforms: Uint32Array | null = null;
    if (kernel.uniforms.length) {
      uniforms = new Uint32Array(roundUp(kernel.uniforms.length, 4));
      if (uniforms.byteLength > L.maxUniformBufferBindingSize) {
        throw new EinattnError(
          'LIMIT',
          `${k} has ${kernel.uniforms.length} uniforms (${uniforms.byteLength} bytes), over ${limitText(rt, 'maxUniformBufferBindingSize')}`,
        );
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
      throw new EinattnError(
        'LIMIT',
        `${k} needs ${count} workgroups (${formatSizeExpr(kernel.workgroups)}), over ${perDim}^3 = ${perDim ** 3} from ${limitText(rt, 'maxComputeWorkgroupsPerDimension')}`,
      );
    }
    return { kernel, count, grid: layoutWorkgroups(count, perDim), uniforms };
  });
}

/**
 * Runs a plan: checks sizes, inputs and limits, uploads host inputs, dispatches every kernel,
 * and reads the outputs back (or leaves them on the device: `outputs: 'device'`, `into`, `session`).
 * @example const { outputs } = await runPlan(plan, { q, k, v }, { s: 128, t: 128 }); outputs.o.data
 */
export async function runPlan(plan: ExecPlan, inputs: Record<string, RunValue>, dims: Record<string, number>, opts: RunOptions = {}): Promise<RunResult> {
  const session = opts.session;
  if (session !== undefined && !(session instanceof Session))
    throw new EinattnError('USAGE', `plan '${plan.name}': 'session' must be a Session, got ${describeValue(session)}`);
  if (session && opts.outputs === 'host')
    throw new EinattnError(
      'USAGE',
      `plan '${plan.name}': a run recorded into a session keeps its outputs on the device; read them with tensor.read() after session.submit()`,
    );
  if (session && opts.runtime && opts.runtime.device !== session.runtime.device)
    throw new EinattnError('USAGE', `plan '${plan.name}': the runtime option and the session are on different devices`);
  if (opts.outputs !== undefined && opts.outputs !== 'host' && opts.outputs !== 'device')
    throw new EinattnError('USAGE', `plan '${plan.name}': outputs must be 'host' or 'device', got ${JSON.stringify(opts.outputs)}`);
  session?.assertOpen(`plan '${plan.name}'`);
  const rt = session?.runtime ?? opts.runtime ?? (await defaultRuntime());
  assertAlive(rt);
  const t0 = performance.now();
  const sizes = bindSizes(plan, dims);
  const buffers = resolveBuffers(plan, sizes);
  checkInputs(plan, buffers, inputs, rt);
  const into = checkInto(plan, buffers, opts.into ?? {}, inputs, rt);
  const hostInputs = Object.fromEntries(Object.entries(inputs).filter(([, v]) => !(v instanceof DeviceTensor))) as Record<string, HostArray>;
  checkIndices(plan, buffers, hostInputs, sizes);
  const launches = checkLimits(plan, buffers, sizes, rt);
  await checkSubgroups(plan, rt);
  const pipelines = await Promise.all(plan.kernels.map((k) => getPipeline(rt, k)));
  assertAlive(rt);

  const keep = session ? 'device' : (opts.outputs ?? 'host');
  const s = session ?? new Session(rt, { timing: opts.timing, label: plan.name });
  const tensors: Record<string, DeviceTensor> = {};
  const readIndex = new Map<string, number>();
  s.record(() => {
    const gpuBuf = new Map<string, GPUBuffer>();
    for (const b of buffers) gpuBuf.set(b.name, bufferFor(rt, s, plan, b, own(inputs, b.name), own(into, b.name), keep, tensors));
    // Kernels may accumulate into outputs and temps, and pooled buffers hold old data.
    for (const b of buffers) if (b.role !== 'input') s.clear(gpuBuf.get(b.name)!);
    launches.forEach((launch, i) => {
      const { kernel } = launch;
      const entries: GPUBindGroupEntry[] = kernel.bindings.map((bd, j) => ({ binding: j, resource: { buffer: gpuBuf.get(bd.buffer)! } }));
      if (launch.uniforms) {
        const ub = s.scratch(launch.uniforms.byteLength, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST, `${kernel.name}.uniforms`);
        // the DOM library types writeBuffer's data as ArrayBuffer-backed, which these (new Uint32Array) are
        rt.device.queue.writeBuffer(ub, 0, launch.uniforms as Uint32Array<ArrayBuffer>);
        rt.transfers.uniformBytes += launch.uniforms.byteLength;
        entries.push({ binding: kernel.bindings.length, resource: { buffer: ub } });
      }
      const bindGroup = rt.device.createBindGroup({ layout: pipelines[i]!.getBindGroupLayout(0), entries, label: kernel.name });
      s.pass(kernel.name, pipelines[i]!, bindGroup, launch.grid, launch.count);
    });
    for (const b of buffers) if (b.role === 'output' && own(tensors, b.name) === undefined) readIndex.set(b.name, s.readBack(gpuBuf.get(b.name)!, b.bytes));
  });
  if (session) return { outputs: {}, tensors, totalMs: performance.now() - t0 };

  const res = await s.submit();
  const outputs: Record<string, RunOutput> = {};
  for (const b of buffers) {
    const at = readIndex.get(b.name);
    if (at === undefined) continue;
    const data = hostArrayOver(b.dtype, res.reads[at]!, b.count);
    outputs[b.name] = { dtype: b.dtype, shape: b.shape, axes: [...b.axes], data };
    rt.transfers.bytesReadBack += b.bytes;
    rt.transfers.readbacks++;
  }
  const out: RunResult = { outputs, tensors, totalMs: performance.now() - t0 };
  if (res.kernelMs) out.kernelMs = res.kernelMs;
  return out;
}

/** The GPU buffer of one plan buffer in one run: the caller's tensor, a new output tensor, or pooled scratch. */
function bufferFor(
  rt: Runtime,
  s: Session,
  plan: ExecPlan,
  b: ResolvedBuffer,
  input: RunValue | undefined,
  into: DeviceTensor | undefined,
  keep: 'host' | 'device',
  tensors: Record<string, DeviceTensor>,
): GPUBuffer {
  if (b.role === 'input') {
    if (input instanceof DeviceTensor) return input.buffer;
    const buf = s.scratch(b.allocBytes, TENSOR_USAGE(), `${plan.name}.${b.name}`);
    if (b.bytes > 0) writeWords(rt, buf, input as HostArray);
    return buf;
  }
  if (b.role === 'output' && (into || keep === 'device')) {
    const t =
      into ??
      new DeviceTensor(
        rt,
        rt.device.createBuffer({ size: b.allocBytes, usage: TENSOR_USAGE(), label: `${plan.name}.${b.name}` }),
        b.dtype,
        b.axes,
        b.shape,
        true,
        b.name,
      );
    tensors[b.name] = t;
    return t.buffer;
  }
  return s.scratch(b.allocBytes, TENSOR_USAGE(), `${plan.name}.${b.name}`);
}
