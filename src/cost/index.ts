/** The cost model: FLOPs, bytes, KV-cache size and roofline predictions for any graph. */
export { findAttentions, type Attention } from './attention.ts';
export { DEVICES, type Device } from './devices.ts';
export { graphFlops, type FlopCount } from './flops.ts';
export { kvPerToken, type KvCost } from './kv.ts';
export { costOf, type CostReport } from './model.ts';
export { planTraffic, type Traffic } from './traffic.ts';
export { kvContextSvg, rooflineSvg } from './svg.ts';
export { localDevice, measureRoofline, type MeasuredRoofline } from './measure.ts';
