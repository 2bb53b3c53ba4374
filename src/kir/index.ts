/**
 * The kernel IR, the bottom layer: typed WGSL statements and expressions (`ir.ts`), the one
 * renderer (`render.ts`) and the cleanup passes (`passes.ts`). It imports nothing, so both the
 * lowering's kernels and the runtime's KV-cache kernels are built with it.
 */
export * as kir from './ir.ts';
export type { Expr, KernelModule, Stmt, Ty } from './ir.ts';
export { headerLines, renderExpr, renderModule, renderStmts, renderType } from './render.ts';
export { cleanup } from './passes.ts';
