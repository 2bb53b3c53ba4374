/** The benchmark: einattn against its peers on one adapter, in one run. */
export { customCase, DEFAULT_CASES, dimsLabel, QUICK_CASES, selectCases, variantOf, type BenchCase } from './cases.ts';
export { loadOrt, ortProblem, ortRunner, type OrtProblem } from './ort.ts';
export { onnxModel, type OnnxNode, type ValueInfo } from './onnx.ts';
export { benchMarkdown, noisy, speedup, targets, type Target } from './report.ts';
export { pairedRatio, runBench, SYSTEMS, type BenchOptions, type BenchResult, type BenchRow, type SystemName } from './run.ts';
export { benchRooflineSvg, timesSvg } from './svg.ts';
export { timeStats, type TimeStats } from '../tune/stats.ts';
export { DEFAULT_DECODE_STEPS, decodeStepMarkdown, QUICK_DECODE_STEPS, runDecodeSteps, type DecodeStepCase, type DecodeStepRow } from './decode.ts';
