export * from './node.ts';
export * from './build.ts';
export * from './ops.ts';
export * from './graph.ts';
export * from './sizes.ts';
export * from './names.ts';
export * from './print.ts';
export * from './reorder.ts';
