/** einattn: a typed einsum DSL for attention, lowered to fused WGSL kernels. */
export * from './dsl/index.ts';
export { EinattnError, type ErrorCode } from './errors.ts';
export { printGraph, resolveSizes, specialize, type Graph, type Node } from './ir/index.ts';
export { interpret, type InterpResult } from './interp/index.ts';
export { compile, type Compiled, type CompiledOutput, type RunInput } from './compile.ts';
export * from './variants/index.ts';
export * from './display/index.ts';
