/**
 * What the runtime knows about an adapter's subgroups before it dispatches a kernel
 * that shuffles among lanes: the WebGPU spec fixes neither the subgroup size (8 on
 * lavapipe, 32 on NVIDIA, 4..128 elsewhere) nor how subgroups map onto
 * local_invocation_index, so both are measured once per device, never assumed.
 */
import { EinattnError } from '../errors.ts';
import { platform } from '../platform/index.ts';
import type { Runtime } from './device.ts';
import type { ExecPlan } from './plan.ts';

/** The measured subgroup layout of a device. */
export interface SubgroupLayout {
  /** the adapter's reported subgroup size range */
  minSize: number;
  maxSize: number;
  /** the size a probe kernel saw */
  probed: number;
  /** the smallest size a kernel may get: the lesser of the reported minimum and the probed size */
  smallest: number;
  /** every invocation's subgroup_invocation_id was local_invocation_index mod the subgroup size */
  linear: boolean;
}

const PROBE_INVOCATIONS = 256;
const PROBE = `enable subgroups;
@group(0) @binding(0) var<storage, read_write> seen: array<u32>;
@compute @workgroup_size(${PROBE_INVOCATIONS})
fn probe(@builtin(local_invocation_index) lid: u32, @builtin(subgroup_invocation_id) sid: u32, @builtin(subgroup_size) size: u32) {
  seen[2u * lid] = sid;
  seen[2u * lid + 1u] = size;
}`;

const layouts = new WeakMap<GPUDevice, Promise<SubgroupLayout>>();

/**
 * The device's subgroup layout, probed by one tiny dispatch the first time it is asked for.
 * @example (await subgroupLayout(rt)).linear // true (lavapipe, and the GPUs measured so far)
 */
export function subgroupLayout(rt: Runtime): Promise<SubgroupLayout> {
  let p = layouts.get(rt.device);
  if (!p) {
    p = probe(rt);
    layouts.set(rt.device, p);
  }
  return p;
}

async function probe(rt: Runtime): Promise<SubgroupLayout> {
  const { device } = rt;
  const bytes = 8 * PROBE_INVOCATIONS;
  const out = device.createBuffer({ size: bytes, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC, label: 'einattn subgroup probe' });
  const read = device.createBuffer({ size: bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, label: 'einattn subgroup probe readback' });
  try {
    const pipeline = await device.createComputePipelineAsync({
      layout: 'auto',
      compute: { module: device.createShaderModule({ code: PROBE }), entryPoint: 'probe' },
    });
    const group = device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: [{ binding: 0, resource: { buffer: out } }] });
    const enc = device.createCommandEncoder();
    const pass = enc.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, group);
    pass.dispatchWorkgroups(1);
    pass.end();
    enc.copyBufferToBuffer(out, 0, read, 0, bytes);
    device.queue.submit([enc.finish()]);
    await platform.awaitGpu(read.mapAsync(GPUMapMode.READ));
    const seen = new Uint32Array(read.getMappedRange().slice(0));
    read.unmap();
    const probed = seen[1]!;
    let linear = probed > 0;
    for (let lid = 0; lid < PROBE_INVOCATIONS && linear; lid++) linear = seen[2 * lid + 1] === probed && seen[2 * lid] === lid % probed;
    const minSize = rt.info.subgroupMinSize ?? probed;
    return { minSize, maxSize: rt.info.subgroupMaxSize ?? probed, probed, smallest: Math.min(minSize, probed), linear };
  } finally {
    out.destroy();
    read.destroy();
  }
}

/**
 * Checks that every kernel of `plan` that shuffles among lanes can on this device:
 * the lanes fit in the smallest subgroup and subgroups follow local_invocation_index.
 * @example await checkSubgroups({ name: 'p', kernels: [{ name: 'k', subgroupLanes: 1024 }] } as ExecPlan, rt) // throws: kernel 'k' of plan 'p' merges 1024 lanes with subgroup shuffles, but subgroups on …
 */
export async function checkSubgroups(plan: ExecPlan, rt: Runtime): Promise<void> {
  const kernels = plan.kernels.filter((k) => k.subgroupLanes !== undefined && k.subgroupLanes > 1);
  if (kernels.length === 0) return;
  const layout = await subgroupLayout(rt);
  const device = `the ${rt.kind} adapter ${rt.info.description || rt.info.device}`;
  for (const k of kernels) {
    const lanes = k.subgroupLanes!;
    const min = layout.smallest;
    if (lanes > min)
      throw new EinattnError(
        'LIMIT',
        `kernel '${k.name}' of plan '${plan.name}' merges ${lanes} lanes with subgroup shuffles, but subgroups on ${device} can be as small as ${min} invocations (subgroupMinSize); use kvLanes <= ${min} or subgroups: false in the flash schedule`,
      );
    if (!layout.linear)
      throw new EinattnError(
        'LIMIT',
        `kernel '${k.name}' of plan '${plan.name}' merges lanes with subgroup shuffles, but subgroups on ${device} do not follow local_invocation_index (measured by a probe kernel); use subgroups: false in the flash schedule`,
      );
  }
}
