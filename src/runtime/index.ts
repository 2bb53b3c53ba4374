/**
 * The einattn runtime: everything a generated kernel module needs to run a plan, and
 * nothing from the DSL, IR or lowering (so applications can ship without the compiler).
 */
export { EinattnError, fail, type ErrorCode } from '../errors.ts';
export type { ExecPlan, KernelAbout, PlanBuffer, PlanFeature, PlanKernel, PlanUnfused, SizeExpr, StorageDType } from './plan.ts';
export {
  allocHostArray,
  bytesPerElement,
  describeValue,
  hostArrayFromBytes,
  hostArrayName,
  isHostArrayOf,
  STORAGE,
  type HostArray,
  type HostArrayOf,
  type StorageSchema,
} from './dtypes.ts';
export { f16ArrayToF32, f16BitsToF32, f16BitsToF32Bits, f32ArrayToF16, f32BitsToF16Bits, f32ToF16Bits } from './f16.ts';
export { encodeNpy, parseNpy, readNpy, readNpySync, writeNpy, writeNpySync, type NpyArray } from './npy.ts';
export { bindSizes, evalSize, formatSizeExpr, type SizeMap } from './sizes.ts';
export {
  adapterLabel,
  isSoftwareAdapter,
  parseAdapterChoice,
  softwareName,
  type AdapterChoice,
  type AdapterKind,
  type ChosenAdapter,
} from '../platform/adapter.ts';
export { chooseAdapter } from '../platform/index.ts';
export {
  closeRuntime,
  getPipeline,
  getRuntime,
  LIMIT_NAMES,
  OPTIONAL_FEATURES,
  runtimeStats,
  type LimitName,
  type LostInfo,
  type Runtime,
  type RuntimeLimits,
  type RuntimeOptions,
  type RuntimeStats,
  type TransferCounters,
} from './device.ts';
export { DeviceTensor, dtypeOfArray, isDeviceTensor, TENSOR_USAGE, upload, wrapBuffer, zeros } from './tensor.ts';
export { Session, type SessionOptions, type SessionResult, type SubmitOptions } from './session.ts';
export {
  checkInputs,
  checkIndices,
  checkInto,
  checkLimits,
  checkTensor,
  layoutWorkgroups,
  resolveBuffers,
  runPlan,
  type Launch,
  type ResolvedBuffer,
  type RunOptions,
  type RunOutput,
  type RunResult,
  type RunValue,
} from './execute.ts';
export { adapterId, adapterReport, formatInfo, type AdapterReport } from './info.ts';
export { CACHE_LAYOUTS, KvCache, type AppendOptions, type CacheLayout, type KvCacheOptions } from './kv/cache.ts';
export { FreeListAllocator, PagedKvCache, type BlockAllocator, type PagedKvCacheOptions } from './kv/paged.ts';
export { advancePlan, appendInt8Plan, appendPagedPlan, appendWordsPlan, type CacheTensorSpec } from './kv/kernels.ts';
