/** Small test helpers: run a graph, random data, named-index access, error assertions. */
import fc from 'fast-check';
import { expect } from 'vitest';
import { EinattnError, graph, interpret, type ErrorCode, type Tensor } from '../../src/index.ts';

/** Builds a one-off graph from `outputs` and interprets it. */
export function run(outputs: Record<string, Tensor<any>>, inputs: Record<string, ArrayLike<number>>, dims: Record<string, number>) {
  return interpret(graph('test_graph', outputs), inputs, dims);
}

/** Floats in [-4, 4] (float32 bounds, no NaN/inf), mixed with small dyadic values and exact zeros. */
export const smallFloat = fc.oneof(
  fc.float({ min: Math.fround(-4), max: Math.fround(4), noNaN: true, noDefaultInfinity: true }),
  fc.integer({ min: -16, max: 16 }).map((k) => k / 4),
);

/** An array of exactly `n` small floats. */
export const floats = (n: number) => fc.array(smallFloat, { minLength: n, maxLength: n });

/** Sizes that include 1, a non-power-of-two and primes. */
export const size = fc.constantFrom(1, 2, 3, 5);

/** Plain numbers with -0 turned into +0 (einsum sums start from +0). */
export const plain = (xs: ArrayLike<number>) => Array.from(xs, (x) => x + 0);

export const product = (xs: readonly number[]) => xs.reduce((p, x) => p * x, 1);

/** Row-major offset of the named index `idx` in an array with `axes` of `shape`. */
export function offset(axes: readonly string[], shape: readonly number[], idx: Record<string, number>): number {
  let off = 0;
  for (let d = 0; d < axes.length; d++) {
    const i = idx[axes[d]!];
    if (i === undefined) throw new Error(`test: no index for axis ${axes[d]}`);
    off = off * shape[d]! + i;
  }
  return off;
}

/** Calls `f` with every named index of the space `axes` (sizes from `dims`), row-major order. */
export function forAll(axes: readonly string[], dims: Record<string, number>, f: (idx: Record<string, number>) => void): void {
  const idx: Record<string, number> = {};
  const rec = (d: number): void => {
    if (d === axes.length) return f({ ...idx });
    for (let i = 0; i < dims[axes[d]!]!; i++) {
      idx[axes[d]!] = i;
      rec(d + 1);
    }
  };
  rec(0);
}

/** Asserts `f` throws an EinattnError with `code` whose message contains every one of `parts`. */
export function expectError(f: () => unknown, code: ErrorCode, ...parts: string[]): EinattnError {
  let caught: unknown;
  try {
    f();
  } catch (e) {
    caught = e;
  }
  expect(caught, 'expected an EinattnError to be thrown').toBeInstanceOf(EinattnError);
  const err = caught as EinattnError;
  expect(err.code, err.message).toBe(code);
  for (const p of parts) expect(err.message).toContain(p);
  return err;
}

/** |a - b| <= rel * scale + abs, elementwise, with a readable failure. */
export function expectClose(got: ArrayLike<number>, want: ArrayLike<number>, rel = 1e-9, scale?: ArrayLike<number>, abs = 1e-300): void {
  expect(got.length).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    const g = got[i]!;
    const w = want[i]!;
    const s = scale ? scale[i]! : Math.abs(w);
    if (!(Math.abs(g - w) <= rel * s + abs)) expect.fail(`element ${i}: got ${g}, want ${w} (tolerance ${rel * s + abs})`);
  }
}
