/**
 * Random einsum specs and shapes, evaluated by the interpreter and by an
 * independent nested-loop einsum written here (no code shared with src).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { einsum, graph, input, interpret, type Tensor } from '../../src/index.ts';
import { expectError } from '../interp/helpers.ts';

const ALPHABET = ['a', 'b', 'c', 'd', 'e'] as const;
const SIZES = [1, 2, 3, 5] as const;

/** numpy's implicit output, re-derived: axes used exactly once, sorted. */
function implicitAxes(inputs: string[][]): string[] {
  const n = new Map<string, number>();
  for (const ax of inputs) for (const a of ax) n.set(a, (n.get(a) ?? 0) + 1);
  return [...n.keys()].filter((a) => n.get(a) === 1).sort();
}

/**
 * The oracle: loop over every assignment of every axis, multiply the operands'
 * elements, add into the output element. Also returns Σ|term| per output element
 * (the scale of the rounding error).
 */
function loopEinsum(inputs: string[][], output: string[], sizes: Record<string, number>, data: number[][]) {
  const all: string[] = [];
  for (const ax of [...inputs, output]) for (const a of ax) if (!all.includes(a)) all.push(a);
  const at = (axes: string[], idx: Record<string, number>) => axes.reduce((off, a) => off * sizes[a]! + idx[a]!, 0);
  const outLen = output.reduce((p, a) => p * sizes[a]!, 1);
  const out = new Array<number>(outLen).fill(0);
  const mag = new Array<number>(outLen).fill(0);
  const idx: Record<string, number> = {};
  const loop = (d: number): void => {
    if (d === all.length) {
      let term = 1;
      for (let k = 0; k < inputs.length; k++) term *= data[k]![at(inputs[k]!, idx)]!;
      out[at(output, idx)]! += term;
      mag[at(output, idx)]! += Math.abs(term);
      return;
    }
    for (let i = 0; i < sizes[all[d]!]!; i++) {
      idx[all[d]!] = i;
      loop(d + 1);
    }
  };
  loop(0);
  return { out, mag };
}

interface Case {
  inputs: string[][];
  output: string[] | null;
  spec: string;
  sizes: Record<string, number>;
  data: number[][];
}

const value = fc.oneof(fc.float({ min: Math.fround(-4), max: Math.fround(4), noNaN: true, noDefaultInfinity: true }), fc.integer({ min: -8, max: 8 }));

const caseArb: fc.Arbitrary<Case> = fc
  .record({
    inputs: fc.array(fc.shuffledSubarray([...ALPHABET], { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 3 }),
    sizeList: fc.tuple(...ALPHABET.map(() => fc.constantFrom(...SIZES))),
    explicit: fc.boolean(),
    space: fc.constantFrom(' ', '  ', ' \t'),
    comma: fc.constantFrom(',', ', ', ' , ', ',  '),
    arrow: fc.constantFrom('->', ' -> ', '-> ', ' ->'),
  })
  .chain(({ inputs, sizeList, explicit, space, comma, arrow }) => {
    const used = [...new Set(inputs.flat())];
    const sizes = Object.fromEntries(used.map((a) => [a, sizeList[ALPHABET.indexOf(a as never)]!]));
    const lengths = inputs.map((ax) => ax.reduce((p, a) => p * sizes[a]!, 1));
    return fc.record({
      inputs: fc.constant(inputs),
      output: explicit ? fc.shuffledSubarray(used, { minLength: 0, maxLength: used.length }) : fc.constant(null),
      sizes: fc.constant(sizes),
      data: fc.tuple(...lengths.map((n) => fc.array(value, { minLength: n, maxLength: n }))),
      fmt: fc.constant({ space, comma, arrow }),
    });
  })
  .map(({ inputs, output, sizes, data, fmt }) => {
    const lhs = inputs.map((ax) => ax.join(fmt.space)).join(fmt.comma);
    const spec = output === null ? lhs : `${lhs}${fmt.arrow}${output.join(fmt.space)}`;
    return { inputs, output, spec, sizes, data };
  });

describe('einsum against a nested-loop oracle', () => {
  it('random specs (1-3 operands, 1-4 axes each, explicit or implicit output, sizes 1/2/3/5)', () => {
    fc.assert(
      fc.property(caseArb, ({ inputs, output, spec, sizes, data }) => {
        const tensors = inputs.map((ax, i) => input(`x${i}`, ax.join(' ')) as Tensor<any>);
        const result = einsum(spec as string, ...tensors);
        const want = output ?? implicitAxes(inputs);
        expect(result.axes).toEqual(want);
        const g = graph('einsum_case', { o: result });
        const feeds = Object.fromEntries(data.map((d, i) => [`x${i}`, d]));
        const got = interpret(g, feeds, sizes).o;
        expect(got.axes).toEqual(want);
        expect(got.shape).toEqual(want.map((a) => sizes[a]));
        const { out, mag } = loopEinsum(inputs, want, sizes, data);
        expect(got.data.length).toBe(out.length);
        for (let i = 0; i < out.length; i++) {
          const tol = 1e-9 * mag[i]! + 1e-300;
          if (!(Math.abs(got.data[i]! - out[i]!) <= tol))
            throw new Error(`${spec} ${JSON.stringify(sizes)}: element ${i} is ${got.data[i]}, the loop gives ${out[i]}`);
        }
      }),
      { numRuns: 200 },
    );
  });

  it('the oracle itself agrees with a hand-computed matmul and trace-free contraction', () => {
    const { out } = loopEinsum(
      [
        ['i', 'j'],
        ['j', 'k'],
      ],
      ['i', 'k'],
      { i: 2, j: 2, k: 1 },
      [
        [1, 2, 3, 4],
        [5, 6],
      ],
    );
    expect(out).toEqual([1 * 5 + 2 * 6, 3 * 5 + 4 * 6]);
    expect(loopEinsum([['i', 'j']], [], { i: 2, j: 3 }, [[1, 2, 3, 4, 5, 6]]).out).toEqual([21]);
    expect(
      implicitAxes([
        ['j', 'i'],
        ['i', 'k'],
      ]),
    ).toEqual(['j', 'k']);
  });

  it('implicit output follows numpy: axes seen once, sorted', () => {
    const a = input('a', 'k j');
    const b = input('b', 'j i');
    expect(einsum('k j, j i', a, b).axes).toEqual(['i', 'k']);
    expect(einsum('k j', a).axes).toEqual(['j', 'k']);
    // an axis repeated across operands disappears (is summed) in the implicit form
    expect(einsum('k j, k j', a, input('c', 'k j')).axes).toEqual([]);
  });

  it('a scalar (zero-axis) operand cannot be written in a spec: an empty term is a SPEC_SYNTAX error', () => {
    const s = input('s', '');
    const x = input('x', 'i');
    expectError(() => (einsum as any)(', i -> i', s, x), 'SPEC_SYNTAX', 'operand 1', 'empty operand');
    expectError(() => (einsum as any)('i, -> i', x, s), 'SPEC_SYNTAX', 'operand 2', 'empty operand');
    expectError(() => (einsum as any)(' -> ', s), 'SPEC_SYNTAX', "no operands before '->'");
  });
});
