export * from './ops.ts';
export { rope, type RopeOptions } from './rope.ts';
export { appendInt8, quantizeInt8, type AppendAxes, type Int8Rows } from './quant.ts';
export { Tensor, type Axes, type Operand, type SoftmaxOptions } from './tensor.ts';
export { parseAxes, parseSpec, implicitOutput } from './spec.ts';
export type * from './types.ts';
