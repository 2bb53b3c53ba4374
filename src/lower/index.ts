/** The lowering: graph → kernel plan → WGSL text. */
export { lower, type LowerOptions } from './lower.ts';
export { explain } from './explain.ts';
export { scoreAxes, unfusedReason, type ScoreAxes } from './unfused.ts';
export { loweringKey } from './key.ts';
export * as kir from '../kir/ir.ts';
export { renderExpr, renderStmts } from '../kir/render.ts';
export { groupKernels, type KernelGroup } from './schedule.ts';
export { planSizes } from './sizes.ts';
export {
  DEFAULT_FLASH_SCHEDULE,
  findFlash,
  flashSchedule,
  scheduleKey,
  specializeFor,
  type FlashDevice,
  type FlashMatch,
  type FlashMiss,
  type FlashSchedule,
  type FlashScore,
} from './flash/index.ts';
