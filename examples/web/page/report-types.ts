/**
 * The shape of `window.einattnResults`, which every page fills: kept apart from the DOM code so
 * that Node code (the test suite, bench:web) can import it.
 */
import type { AdapterReport } from 'einattn/runtime';
import type { Check } from './check.ts';

/** One case a page ran on the GPU and checked against the interpreter. */
export interface CaseResult extends Check {
  name: string;
  dims: Record<string, number>;
  /** per-kernel GPU milliseconds, summed */
  kernelMs: number | null;
}

/** Everything a page reports. */
export interface PageResults {
  done: boolean;
  /** every case ran and passed */
  ok: boolean;
  adapter: AdapterReport | null;
  cases: CaseResult[];
  /** the first error, with its message (e.g. NO_ADAPTER and why) */
  error: string | null;
}
