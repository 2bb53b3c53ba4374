/** The shape of `window.einattnBench`, which the bench page fills and `npm run bench:web` reads. */
import type { AdapterReport } from 'einattn/runtime';

/** One system's timing of one row: median and quartiles of the wall time per call. */
export interface Timing {
  median_ms: number;
  q1_ms: number;
  q3_ms: number;
  /** einattn only: GPU time of its kernels (timestamp queries), median */
  kernel_ms?: number;
}

/** One benchmark row in the page. */
export interface WebBenchRow {
  id: string;
  variant: string;
  dims: Record<string, number>;
  opts: Record<string, boolean | number>;
  einattn: Timing | { error: string };
  ort: Timing | { skipped: string } | { error: string };
  /** the median over rounds of the paired ratio ORT wall / einattn wall: above 1 means einattn is faster */
  ratio: number | null;
  /** max |einattn − ORT| and max |einattn − interpreter| (when the interpreter ran) */
  maxDiffOrt: number | null;
  maxDiffInterp: number | null;
  note?: string;
}

/** Everything the bench page reports. */
export interface WebBench {
  done: boolean;
  error: string | null;
  adapter: AdapterReport | null;
  userAgent: string;
  ortVersion: string;
  reps: number;
  rows: WebBenchRow[];
}
