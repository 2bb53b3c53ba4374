/** Every run-time validation error: an EinattnError with the right code and a message naming the culprit. */
import { describe, expect, it } from 'vitest';
import {
  EinattnError,
  cumsum,
  einsum,
  graph,
  index,
  input,
  interpret,
  max,
  mod,
  parseSpec,
  resolveSizes,
  softmax,
  sum,
  where,
  type Tensor,
} from '../../src/index.ts';
import { expectError } from '../interp/helpers.ts';

/** einsum without compile-time checks, as an untyped (JavaScript) caller would call it. */
const untyped = einsum as unknown as (spec: string, ...operands: unknown[]) => Tensor<any>;

const q = input('q', 'b h s d');
const k = input('k', 'b h t d');

describe('SPEC_SYNTAX', () => {
  it('a stray > or -, with its column', () => {
    expectError(() => untyped('i j > i', input('m', 'i j')), 'SPEC_SYNTAX', "stray '>'", 'column 5', "'->'");
    expectError(() => untyped('i j - i', input('m', 'i j')), 'SPEC_SYNTAX', "stray '-'", 'column 5');
    expectError(() => untyped('i j ->> i', input('m', 'i j')), 'SPEC_SYNTAX', "stray '>'", 'column 7');
  });

  it('two arrows', () => {
    expectError(() => untyped('i -> j -> k', input('v', 'i')), 'SPEC_SYNTAX', "more than one '->'", 'column 8');
  });

  it('a bad character, with its column number', () => {
    expectError(() => untyped('i j, j $ -> i', q, k), 'SPEC_SYNTAX', 'unexpected character "$"', 'column 8');
    expectError(() => untyped('i.j', q), 'SPEC_SYNTAX', 'unexpected character "."', 'column 2');
    expectError(() => untyped('i j; j k', q), 'SPEC_SYNTAX', '";"', 'column 4');
  });

  it('an empty operand', () => {
    expectError(() => untyped('i j, , j k -> i', q, k, q), 'SPEC_SYNTAX', 'operand 2', 'empty operand');
    expectError(() => untyped('i j, -> i', q, k), 'SPEC_SYNTAX', 'operand 2', 'empty operand');
    expectError(() => untyped(' -> i', q), 'SPEC_SYNTAX', "no operands before '->'");
    expectError(() => parseSpec(''), 'SPEC_SYNTAX');
  });

  it('a spec that is not a string', () => {
    expectError(() => untyped(42 as never, q), 'SPEC_SYNTAX', 'must be a string');
  });

  it('split into fewer than two axes, merge of fewer than two', () => {
    expectError(() => (q as any).split('h', 'g'), 'SPEC_SYNTAX', "split 'h'", 'at least two');
    expectError(() => (q as any).merge('h', 'm'), 'SPEC_SYNTAX', 'at least two');
  });
});

describe('UNKNOWN_AXIS', () => {
  it('an output axis that no operand has', () => {
    expectError(() => untyped('b h s d -> b x', q), 'UNKNOWN_AXIS', "output axis 'x'", 'position 2', "'b h s d -> b x'");
  });

  it('reductions, softmax, rename, split, merge, transpose, gather over a missing axis', () => {
    expectError(() => (q as any).sum('z'), 'UNKNOWN_AXIS', "axis 'z'", '[b h s d]');
    expectError(() => (q as any).max('s z'), 'UNKNOWN_AXIS', "axis 'z'");
    expectError(() => (sum as any)(q, 'z'), 'UNKNOWN_AXIS', "axis 'z'");
    expectError(() => (max as any)(q, 'z'), 'UNKNOWN_AXIS', "axis 'z'");
    expectError(() => (q as any).sum(''), 'UNKNOWN_AXIS', 'at least one axis');
    expectError(() => (softmax as any)(q, 'z'), 'UNKNOWN_AXIS', "softmax: axis 'z'");
    expectError(() => (q as any).rename('z', 'y'), 'UNKNOWN_AXIS', "'z'");
    expectError(() => (q as any).split('z', 'g r'), 'UNKNOWN_AXIS', "'z'");
    expectError(() => (q as any).merge('s z', 'm'), 'UNKNOWN_AXIS', "'z'");
    expectError(() => (q as any).transpose('b h d'), 'UNKNOWN_AXIS', "axis 's'", 'missing');
    expectError(() => (q as any).transpose('b h s d z'), 'UNKNOWN_AXIS', "axis 'z'");
    expectError(() => (q as any).gather('z', input('ix', 'm', 'i32')), 'UNKNOWN_AXIS', "'z'");
  });

  it('a mask or sink with an axis the logits lack', () => {
    const x = input('x', 's t');
    expectError(() => x.softmax('t', { mask: index('u').le(index('t')) }), 'UNKNOWN_AXIS', "softmax mask: axis 'u'");
    expectError(() => x.softmax('t', { sink: input('sk', 't') }), 'UNKNOWN_AXIS', "softmax sink: axis 't'");
  });

  it('sizes for axes the graph does not have', () => {
    const g = graph('g1', { o: q.sum('d') });
    expectError(() => resolveSizes(g, { b: 1, h: 1, s: 1, d: 1, zz: 3 }), 'UNKNOWN_AXIS', "size 'zz'");
    expectError(() => graph('g2', { o: q.sum('d') }, { sizes: { zz: 3 } }), 'UNKNOWN_AXIS', "static size 'zz'");
  });
});

describe('OPERAND_COUNT', () => {
  it('too few or too many operands', () => {
    expectError(() => untyped('b h s d, b h t d -> b h s t', q), 'OPERAND_COUNT', 'names 2 operands', '1 was passed');
    expectError(() => untyped('b h s d -> b h s d', q, k), 'OPERAND_COUNT', 'names 1 operand', '2 were passed');
  });
});

describe('AXIS_MISMATCH', () => {
  it("names 'operand 2', the tensor and the offending axis", () => {
    const bad = input('kx', 'b h x d');
    expectError(() => untyped('b h s d, b h t d -> b h s t', q, bad), 'AXIS_MISMATCH', 'operand 2', "'kx'", "axis 3 is 'x'", "'t'");
    expectError(() => untyped('b h s d, b h t d -> b h s t', q, input('k3', 'b h t')), 'AXIS_MISMATCH', 'operand 2', '4 axes', '[b h t]');
    // same axes, other order: still a mismatch (no implicit transpose)
    expectError(() => untyped('b h s d, b h t d -> b h s t', q, input('kt', 'b h d t')), 'AXIS_MISMATCH', 'operand 2', "axis 3 is 'd'");
  });

  it('an operand that is not a tensor', () => {
    expectError(() => untyped('i -> i', [1, 2, 3]), 'BAD_INPUT', 'operand 1 is not a tensor');
  });
});

describe('SIZE_CONFLICT', () => {
  const split = graph('split_g', { o: input('x', 'h').split('h', 'g r') });

  it('a split whose product disagrees with the split axis', () => {
    expectError(() => resolveSizes(split, { h: 8, g: 2, r: 3 }), 'SIZE_CONFLICT', "split 'h' -> 'g r'", 'h = 8', 'g = 2', 'r = 3');
    expectError(() => resolveSizes(split, { h: 8, g: 3 }), 'SIZE_CONFLICT', 'not divisible', 'g = 3');
    expectError(() => interpret(split, { x: [1, 2, 3, 4, 5, 6] }, { h: 6, g: 4 }), 'SIZE_CONFLICT', "'h'");
  });

  it('a static size contradicted at run time', () => {
    const g = graph('static_g', { o: q.sum('d') }, { sizes: { d: 64 } });
    expectError(() => resolveSizes(g, { b: 1, h: 1, s: 1, d: 32 }), 'SIZE_CONFLICT', "size 'd'", '64', '32');
  });

  it('a merge whose parts disagree with the merged size', () => {
    const g = graph('merge_g', { o: input('x', 'a b').merge('a b', 'm') });
    expectError(() => resolveSizes(g, { a: 2, b: 3, m: 5 }), 'SIZE_CONFLICT', "merge 'a b' -> 'm'", 'm = 5');
  });
});

describe('DTYPE', () => {
  it('einsum of f32 with f16, and an i32 operand', () => {
    expectError(() => untyped('b h s d, b h t d -> b h s t', q, input('kh', 'b h t d', 'f16')), 'DTYPE', 'operand 1: f32', 'operand 2: f16');
    expectError(() => untyped('b h s d, b h t d -> b h s t', q, input('ki', 'b h t d', 'i32')), 'DTYPE', 'operand 2 has dtype i32');
  });

  it('arithmetic on a bool mask, mod of floats, logic on numbers', () => {
    const mask = index('s').lt(index('t'));
    expectError(() => mask.add(1), 'DTYPE', 'add', 'bool');
    expectError(() => q.mul(mask), 'DTYPE', 'mul', 'bool');
    expectError(() => (mask as any).exp(), 'DTYPE', 'exp', 'bool');
    expectError(() => mask.sum('s'), 'DTYPE', 'bool');
    expectError(() => q.mod(2), 'DTYPE', 'mod', 'i32', 'f32');
    expectError(() => mod(input('x', 'i'), input('y', 'i')), 'DTYPE', 'mod');
    expectError(() => q.and(k as any), 'DTYPE', 'and', 'bool');
    expectError(() => q.not(), 'DTYPE', 'not', 'bool');
  });

  it('masks, conditions, gather indices and softmax logits of the wrong kind', () => {
    expectError(() => where(q as any, q, 0), 'DTYPE', 'where', 'bool');
    expectError(() => q.softmax('d', { mask: input('mi', 'd', 'i32') as any }), 'DTYPE', 'mask must be bool');
    expectError(() => input('n', 'i', 'i32').softmax('i'), 'DTYPE', 'softmax', 'i32');
    expectError(() => q.gather('s', input('fi', 'm')), 'DTYPE', "gather 's'", 'must be i32', 'f32');
    expectError(() => input('bad', 'i', 'f64' as any), 'DTYPE', 'f64');
  });

  it('a bool graph output', () => {
    expectError(() => graph('bool_out', { o: index('s').lt(index('t')) }), 'DTYPE', "output 'o'", 'bool');
  });
});

describe('BAD_NAME', () => {
  const bad = ['a-b', 'fn', 'x__y', '1x', 'for', 'a'.repeat(100), 'é', 'αβ', 'let', 'f32', 'mod', '_x'];
  const why: Record<string, string> = {
    fn: 'keyword',
    for: 'keyword',
    let: 'keyword',
    f32: 'keyword',
    mod: 'keyword',
    x__y: "'__'",
    ['a'.repeat(100)]: '100 characters',
  };

  it.each(bad)('%s as an input name, an axis name and a graph name', (name) => {
    const shown = JSON.stringify(name.slice(0, 80));
    const reason = why[name] ?? 'ASCII letter';
    expectError(() => input(name, 'i'), 'BAD_NAME', 'tensor name', shown, reason);
    expectError(() => input('okay', `i ${name}`), 'BAD_NAME', 'axis name', shown, 'axis 2', reason);
    expectError(() => graph(name, { o: q }), 'BAD_NAME', 'graph name', shown, reason);
  });

  it('in every other place a name is taken: outputs, rename, split, merge, index, sizes, einsum specs', () => {
    expectError(() => graph('okay', { 'a-b': q }), 'BAD_NAME', 'output name "a-b"');
    expectError(() => q.rename('h', 'fn' as string), 'BAD_NAME', '"fn"');
    expectError(() => q.split('h', 'g x__y'), 'BAD_NAME', '"x__y"');
    expectError(() => q.merge('s d', 'for'), 'BAD_NAME', '"for"');
    expectError(() => index('1x'), 'BAD_NAME', '"1x"');
    expectError(() => untyped('b h s fn -> b', q), 'BAD_NAME', '"fn"', 'operand 1');
    expectError(() => untyped('b h s d -> let', q), 'BAD_NAME', '"let"', 'output');
  });

  it('accepts ordinary names', () => {
    for (const n of ['q', 'dv', 'kv_cache', 'x1', 'blk', 'A', 'd_qk'.repeat(16)]) expect(() => input(n, 'i')).not.toThrow();
  });
});

describe('BAD_SIZE', () => {
  const g = graph('sizes_g', { o: q.sum('d') });
  const ok = { b: 1, h: 1, s: 1, d: 1 };

  it.each([
    ['zero', 0, '0'],
    ['negative', -2, '-2'],
    ['non-integer', 1.5, '1.5'],
    ['NaN', NaN, 'NaN'],
    ['Infinity', Infinity, 'Infinity'],
    ['a string', '3', '"3"'],
    ['undefined', undefined, 'undefined'],
  ])('a %s size', (_, v, shown) => {
    expectError(() => resolveSizes(g, { ...ok, h: v as number }), 'BAD_SIZE', "size 'h'", 'positive integer', shown);
    expectError(() => interpret(g, { q: [1] }, { ...ok, h: v as number }), 'BAD_SIZE', "size 'h'");
    expectError(() => graph('static_bad', { o: q.sum('d') }, { sizes: { h: v as number } }), 'BAD_SIZE', "static size 'h'");
  });

  it('a missing size names it', () => {
    expectError(() => resolveSizes(g, { b: 1, h: 1, d: 1 }), 'BAD_SIZE', "'s'", 'not bound');
    expectError(() => resolveSizes(g, { b: 1 }), 'BAD_SIZE', "'h', 's', 'd'");
  });
});

describe('REPEATED_AXIS', () => {
  it("'i i' in an input, an einsum operand or an output: diagonals are rejected", () => {
    expectError(() => input('r', 'i i'), 'REPEATED_AXIS', "axis 'i' appears twice", 'diagonals');
    expectError(() => untyped('i i -> i', input('r2', 'i j')), 'REPEATED_AXIS', "axis 'i'", 'operand 1');
    expectError(() => untyped('i j -> i i', input('r3', 'i j')), 'REPEATED_AXIS', "axis 'i'", 'output');
  });

  it('views that would duplicate an axis', () => {
    expectError(() => q.rename('h', 's' as string), 'REPEATED_AXIS', "already has an axis 's'");
    expectError(() => q.split('h', 'g s'), 'REPEATED_AXIS', "'s'");
    expectError(() => q.split('h', 'h r'), 'REPEATED_AXIS', "'h'");
    expectError(() => q.merge('s d', 'h'), 'REPEATED_AXIS', "'h'");
    expectError(() => q.merge('s d', 's'), 'REPEATED_AXIS', "'s'");
    expectError(() => (q as any).transpose('b h s s'), 'REPEATED_AXIS', "'s'");
    expectError(() => q.gather('s', input('ix2', 's', 'i32')), 'REPEATED_AXIS', "'s'");
  });
});

describe('BAD_INPUT (interpreter)', () => {
  const g = graph('inputs_g', { o: einsum('i j -> j i', input('m', 'i j')) });
  const gi = graph('int_g', { o: input('n', 'i', 'i32').add(1) });

  it('a missing input names it and its expected shape', () => {
    expectError(() => interpret(g, {}, { i: 2, j: 2 }), 'BAD_INPUT', "input 'm' is missing", 'f32[i=2 j=2]', '4 values');
    expectError(() => interpret(g, { m: null as never }, { i: 2, j: 2 }), 'BAD_INPUT', "input 'm' is missing");
  });

  it('the wrong length', () => {
    expectError(() => interpret(g, { m: [1, 2, 3] }, { i: 2, j: 2 }), 'BAD_INPUT', "input 'm' has 3 values", '4 values');
  });

  it('an extra input', () => {
    expectError(() => interpret(g, { m: [1, 2, 3, 4], zz: [1] }, { i: 2, j: 2 }), 'BAD_INPUT', "unknown input 'zz'", 'inputs: m');
  });

  it('a non-integer or out-of-range i32 value', () => {
    expectError(() => interpret(gi, { n: [1, 2.5] }, { i: 2 }), 'BAD_INPUT', "input 'n' is i32", 'value 1 is 2.5');
    expectError(() => interpret(gi, { n: [NaN, 1] }, { i: 2 }), 'BAD_INPUT', 'value 0 is NaN');
    expectError(() => interpret(gi, { n: [2 ** 31, 1] }, { i: 2 }), 'BAD_INPUT', 'value 0 is 2147483648');
  });

  it('inputs that are not an object', () => {
    expectError(() => interpret(g, null as never, { i: 2, j: 2 }), 'BAD_INPUT', 'inputs must be an object');
  });

  it('typed arrays are accepted', () => {
    expect(() => interpret(g, { m: new Float32Array(4) }, { i: 2, j: 2 })).not.toThrow();
    expect(() => interpret(gi, { n: new Int32Array([1, -1]) }, { i: 2 })).not.toThrow();
  });
});

describe('sigmoid, elu, floor, clamp, cumsum, topk and topkMask', () => {
  const gate = input('gate', 'b s m');
  const loose = gate as any;

  it('an axis the tensor lacks, or one that is not a string', () => {
    expectError(() => loose.cumsum('z'), 'UNKNOWN_AXIS', "cumsum over 'z'", "axis 'z'", '[b s m]');
    expectError(() => loose.topk('z', 2, 'j'), 'UNKNOWN_AXIS', "topk over 'z'", "axis 'z'");
    expectError(() => loose.topkMask('z', 2), 'UNKNOWN_AXIS', "topkMask over 'z'", "axis 'z'");
    expectError(() => loose.topk(3, 2, 'j'), 'UNKNOWN_AXIS', 'topk', 'as a string', 'number');
    expectError(() => (cumsum as any)(gate, undefined), 'UNKNOWN_AXIS', 'cumsum', 'as a string');
  });

  it('k that is not a positive integer (topk) or a non-negative one (topkMask)', () => {
    expectError(() => loose.topk('m', 2.5, 'j'), 'BAD_SIZE', "topk over 'm'", 'k must be a positive integer, got 2.5');
    expectError(() => loose.topk('m', 0, 'j'), 'BAD_SIZE', 'got 0');
    expectError(() => loose.topk('m', '3', 'j'), 'BAD_SIZE', 'got "3"');
    expectError(() => loose.topkMask('m', -1), 'BAD_SIZE', "topkMask over 'm'", 'at least 0, got -1');
    expectError(() => loose.topkMask('m', 1.5), 'BAD_SIZE', 'got 1.5');
  });

  it("the new axis: a name the tensor has, the ranked axis' own name, a bad name, two sizes for it", () => {
    expectError(() => loose.topk('m', 2, 's'), 'REPEATED_AXIS', "already has an axis 's'");
    expectError(() => loose.topk('m', 2, 'm'), 'REPEATED_AXIS', "a name other than 'm'");
    expectError(() => loose.topk('m', 2, 'j j'), 'BAD_NAME', 'topk', '"j j"');
    expectError(() => graph('g', { a: gate.topk('m', 2, 'j'), b: gate.topk('m', 3, 'j') }), 'SIZE_CONFLICT', "makes size 'j' 3", 'fixed it to 2');
    expectError(() => graph('g', { a: gate.topk('m', 2, 'j') }, { sizes: { j: 3 } }), 'SIZE_CONFLICT', "size 'j'", 'fixed it to 3');
    const g = graph('g', { i: gate.topk('m', 2, 'j') });
    expectError(() => interpret(g, { gate: new Float32Array(8) }, { b: 1, s: 2, m: 4, j: 3 }), 'SIZE_CONFLICT', "size 'j'", 'fixed to 2');
  });

  it('masks where numbers are needed', () => {
    const mask = index('s').lt(index('m'));
    expectError(() => (mask as any).sigmoid(), 'DTYPE', 'sigmoid', 'bool');
    expectError(() => (mask as any).floor(), 'DTYPE', 'floor', 'bool');
    expectError(() => (mask as any).cumsum('s'), 'DTYPE', "cumsum over 's'", 'bool');
    expectError(() => (mask as any).topk('s', 1, 'j'), 'DTYPE', "topk over 's'", 'bool');
    expectError(() => (mask as any).clamp(0, 1), 'DTYPE', 'bool');
  });
});

describe('the error type', () => {
  it('is an Error subclass with a name and a code', () => {
    const e = expectError(() => input('q q', 'i'), 'BAD_NAME');
    expect(e).toBeInstanceOf(Error);
    expect(e.name).toBe('EinattnError');
    expect(e).toBeInstanceOf(EinattnError);
  });
});
