/** RoPE (src/dsl/rope.ts) in the interpreter, against the direct formula and its defining property. */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { type EinattnError, einsum, graph, index, input, interpret, rope } from '../../src/index.ts';
import { expectClose, randInt, randn, rng } from './reference.ts';

/** RoPE by the formula: pairs (a, b) rotate by pos · base^(-2k/d). x is [rows, d], pos [rows]. */
function ropeFormula(x: ArrayLike<number>, pos: ArrayLike<number>, d: number, style: 'half' | 'interleaved', base = 10000): Float64Array {
  const out = new Float64Array(x.length);
  for (let row = 0; row < pos.length; row++)
    for (let k = 0; k < d / 2; k++) {
      const [ia, ib] = style === 'half' ? [k, k + d / 2] : [2 * k, 2 * k + 1];
      const th = pos[row]! * base ** ((-2 * k) / d);
      const a = x[row * d + ia]!;
      const b = x[row * d + ib]!;
      out[row * d + ia] = a * Math.cos(th) - b * Math.sin(th);
      out[row * d + ib] = b * Math.cos(th) + a * Math.sin(th);
    }
  return out;
}

const styleArb = fc.constantFrom('half' as const, 'interleaved' as const);

describe('rope', () => {
  test('positions from the axis index: [b h s d] against the formula, both conventions', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 2 }),
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 4 }),
        styleArb,
        fc.integer(),
        (B, H, S, half, style, seed) => {
          const D = 2 * half;
          const x = randn(rng(seed), B * H * S * D);
          const g = graph('r', { o: rope(input('x', 'b h s d'), { style }) });
          const got = interpret(g, { x }, { b: B, h: H, s: S, d: D }).o!;
          expect(got.axes).toEqual(['b', 'h', 's', 'd']);
          const pos = Array.from({ length: B * H * S }, (_, i) => i % S);
          expectClose(got.data, ropeFormula(x, pos, D, style), 1e-12);
        },
      ),
      { numRuns: 60 },
    );
  });

  test('positions from an i32 tensor (per-sequence offsets), a named axis and a custom base', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 1, max: 4 }),
        styleArb,
        fc.integer(),
        (B, T, half, style, seed) => {
          const D = 2 * half;
          const r = rng(seed);
          const x = randn(r, B * T * D);
          const pos = randInt(r, B * T, 0, 4096);
          const g = graph('r', { o: rope(input('k', 'b t e'), { axis: 'e', pos: input('pos', 'b t', 'i32'), style, base: 500000 }) });
          expectClose(interpret(g, { k: x, pos }, { b: B, t: T, e: D }).o!.data, ropeFormula(x, pos, D, style, 500000), 1e-9);
          // the index of a named axis, shifted: positions t + 3
          const g2 = graph('r2', { o: rope(input('k', 'b t e'), { axis: 'e', pos: index('t').add(3), style }) });
          const shifted = Array.from({ length: B * T }, (_, i) => (i % T) + 3);
          expectClose(interpret(g2, { k: x }, { b: B, t: T, e: D }).o!.data, ropeFormula(x, shifted, D, style), 1e-9);
        },
      ),
      { numRuns: 40 },
    );
  });

  test('the defining property: rope(q, i) · rope(k, j) depends only on i - j', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 4 }),
        styleArb,
        fc.integer({ min: 0, max: 50 }),
        fc.integer({ min: -20, max: 20 }),
        fc.integer(),
        (half, style, i, shift, seed) => {
          const D = 2 * half;
          const r = rng(seed);
          const q = randn(r, D);
          const k = randn(r, D);
          const qi = rope(input('q', 'd'), { pos: input('pi', '', 'i32'), style });
          const kj = rope(input('k', 'd'), { pos: input('pj', '', 'i32'), style });
          const dot = graph('dot', { o: einsum('d, d -> ', qi, kj), qn: einsum('d, d -> ', qi, qi) });
          const at = (a: number, b: number) => interpret(dot, { q, k, pi: [a], pj: [b] }, { d: D });
          const j = Math.max(0, i - 7);
          const base = at(i, j);
          const moved = at(i + Math.abs(shift), j + Math.abs(shift));
          expect(Math.abs(base.o!.data[0]! - moved.o!.data[0]!)).toBeLessThan(1e-9);
          // rotations keep the norm
          const norm = q.reduce((p, v) => p + v * v, 0);
          expect(Math.abs(base.qn!.data[0]! - norm)).toBeLessThan(1e-9);
        },
      ),
      { numRuns: 40 },
    );
  });

  test('bad calls are clear errors', () => {
    const x = input('x', 'b s d');
    const err = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return e as EinattnError;
      }
      throw new Error('no error');
    };
    expect(err(() => rope(x, { axis: 'e' })).message).toMatch(/axis 'e' is not an axis of the tensor \[b s d\]/);
    expect(err(() => rope(x, { pos: input('p', 'b t', 'i32') })).message).toMatch(/position axis 't' must be one of/);
    expect(err(() => rope(x, { pos: input('p', 'b s') })).message).toMatch(/positions must be i32/);
    expect(err(() => rope(x, { style: 'zigzag' as never })).code).toBe('USAGE');
  });
});
