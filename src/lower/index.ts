/** The lowering: graph → kernel plan → WGSL text. */
export { lower, type LowerOptions } from './lower.ts';
export { explain } from './explain.ts';
export { groupKernels, type KernelGroup } from './schedule.ts';
export { planSizes } from './sizes.ts';
