/** Build-time kernel generation: typed TypeScript modules that import only the runtime. */
export { builtinEntries, collectModule, isVariant, type GraphEntry } from './collect.ts';
export { emitIndex, emitModule, type EmitOptions } from './emit.ts';
export { checkAll, renderAll, writeAll, type GenerateResult } from './generate.ts';
