/**
 * Compile-time checks of the DSL's types. This file is not a vitest test: it is
 * type-checked by `tsc --noEmit -p tsconfig.json` (tsconfig includes test/), and
 * every `@ts-expect-error` line must really be an error, or tsc fails.
 */
import { type constant, einsum, type index, indices, input, max, type size, softmax, sum, where, type Tensor } from '../../src/index.ts';

type Equal<X, Y> = (<T>() => T extends X ? 1 : 2) extends <T>() => T extends Y ? 1 : 2 ? true : false;

const q = input('q', 'b h s d');
const k = input('k', 'b h t d');
const v = input('v', 'b h t d');

// ---- declarations -------------------------------------------------------------------
export const okInput: Equal<typeof q, Tensor<['b', 'h', 's', 'd']>> = true;
const spaced = input('x', '  b   h s ');
export const okSpaced: Equal<typeof spaced, Tensor<['b', 'h', 's']>> = true;
const scalar = input('c', '');
export const okScalar: Equal<typeof scalar, Tensor<[]>> = true;
const [si, ti] = indices('s t');
export const okIndices: Equal<[typeof si, typeof ti], [Tensor<['s']>, Tensor<['t']>]> = true;
export const okIndex: Equal<ReturnType<typeof index<'h'>>, Tensor<['h']>> = true;
export const okSize: Equal<ReturnType<typeof size>, Tensor<[]>> = true;
export const okConstant: Equal<ReturnType<typeof constant>, Tensor<[]>> = true;

// ---- einsum ---------------------------------------------------------------------------
const scores = einsum('b h s d, b h t d -> b h s t', q, k);
export const okScores: Equal<typeof scores, Tensor<['b', 'h', 's', 't']>> = true;
const out = einsum('b h s t, b h t d -> b h s d', scores, v);
export const okOut: Equal<typeof out, Tensor<['b', 'h', 's', 'd']>> = true;
const scalarOut = einsum('b h s d ->', q);
export const okScalarOut: Equal<typeof scalarOut, Tensor<[]>> = true;
const tight = einsum('b h s d,b h t d->b s t', q, k);
export const okTight: Equal<typeof tight, Tensor<['b', 's', 't']>> = true;
// GQA falls out of einsum: q [b g r s d] against k [b g t d]
const qg = input('qg', 'b g r s d');
const kg = input('kg', 'b g t d');
const gqa = einsum('b g r s d, b g t d -> b g r s t', qg, kg);
export const okGqa: Equal<typeof gqa, Tensor<['b', 'g', 'r', 's', 't']>> = true;
// implicit output (numpy's rule) is only known at run time: typed as string[]
const implicit = einsum('b h s d, b h t d', q, k);
export const okImplicit: Equal<typeof implicit, Tensor<string[]>> = true;
// a non-literal spec is unchecked and untyped
const dynamicSpec: string = 'b h s d -> b h s';
const dyn = einsum(dynamicSpec, q);
export const okDynamic: Equal<typeof dyn, Tensor<string[]>> = true;
// so is a template-literal spec built from run-time axes, with untyped operands
declare const someAxes: string;
declare const anyTensor: Tensor<any>;
const templ = einsum(`${someAxes} -> ${someAxes}`, anyTensor);
export const okTemplate: Equal<typeof templ, Tensor<string[]>> = true;
const templ2 = einsum(`${someAxes}, ${someAxes} -> b`, anyTensor, anyTensor);
export const okTemplate2: Equal<typeof templ2, Tensor<string[]>> = true;
const templInput = input('ti', `${someAxes} d`);
export const okTemplateInput: Equal<typeof templInput, Tensor<string[]>> = true;

// @ts-expect-error k has the wrong axes for operand 2 ('x' where the spec says 't')
einsum('b h s d, b h t d -> b h s t', q, input('kx', 'b h x d'));
// @ts-expect-error k has too few axes
einsum('b h s d, b h t d -> b h s t', q, input('k3', 'b h t'));
// @ts-expect-error the axes in another order are a different operand type (no implicit transpose)
einsum('b h s d, b h t d -> b h s t', q, input('kt', 'b h d t'));
// @ts-expect-error operand 1 is wrong
einsum('b h s d, b h t d -> b h s t', k, k);
// @ts-expect-error too few operands
einsum('b h s d, b h t d -> b h s t', q);
// @ts-expect-error too many operands
einsum('b h s d -> b h s', q, k);

// ---- elementwise and broadcasting ----------------------------------------------------
const bias = input('slope', 'h').mul(ti.sub(si));
export const okBias: Equal<typeof bias, Tensor<['h', 't', 's']>> = true;
const scaled = scores.mul(0.125);
export const okScaled: Equal<typeof scaled, Tensor<['b', 'h', 's', 't']>> = true;
const biased = scores.add(bias);
export const okBiased: Equal<typeof biased, Tensor<['b', 'h', 's', 't']>> = true;
const mask = ti.le(si);
export const okMask: Equal<typeof mask, Tensor<['t', 's']>> = true;
// where keeps the values' axis order (the operand with more axes first), not the mask's
const masked = where(mask, scores, -Infinity);
export const okWhere: Equal<typeof masked, Tensor<['b', 'h', 's', 't']>> = true;
const maskedFirst = where(mask, -Infinity, scores);
export const okWhereSecond: Equal<typeof maskedFirst, Tensor<['b', 'h', 's', 't']>> = true;
const perHead = where(mask, input('slope2', 'h'), scores);
export const okWhereLonger: Equal<typeof perHead, Tensor<['b', 'h', 's', 't']>> = true;
const extra = where(ti.le(input('len', 'b', 'i32')), input('x1', 'h'), 0);
export const okWhereExtra: Equal<typeof extra, Tensor<['h', 't', 'b']>> = true;
// so a masked operand feeds the einsum the unmasked one fed
export const okWhereEinsum = einsum('b h s t, b h t d -> b h s d', where(mask, scores, 0), v);

// ---- sigmoid, elu, floor, clamp, cumsum, topk -----------------------------------------
export const okSigmoid: Equal<ReturnType<typeof scores.sigmoid>, Tensor<['b', 'h', 's', 't']>> = true;
const clipped = ti.sub(si).clamp(input('lo', 'h', 'i32'), 3);
export const okClamp: Equal<typeof clipped, Tensor<['t', 's', 'h']>> = true;
const prefix = input('log_f', 'b h t').cumsum('t');
export const okCumsum: Equal<typeof prefix, Tensor<['b', 'h', 't']>> = true;
const gate = input('gate', 'b h s m');
const top = gate.topk('m', 2, 'j');
export const okTopk: Equal<typeof top, Tensor<['b', 'h', 's', 'j']>> = true;
const topMask = gate.topkMask('m', 2);
export const okTopkMask: Equal<typeof topMask, Tensor<['b', 'h', 's', 'm']>> = true;
// @ts-expect-error cumsum over an axis the tensor lacks
prefix.cumsum('s');
// @ts-expect-error topk over an axis the tensor lacks
gate.topk('t', 2, 'j');

// ---- softmax --------------------------------------------------------------------------
const p = scores.softmax('t', { mask });
export const okSoftmax: Equal<typeof p, Tensor<['b', 'h', 's', 't']>> = true;
const p2 = softmax(scores, 's');
export const okSoftmax2: Equal<typeof p2, Tensor<['b', 'h', 's', 't']>> = true;
// @ts-expect-error softmax over an axis the tensor lacks (method)
scores.softmax('d');
// @ts-expect-error softmax over an axis the tensor lacks (function)
softmax(scores, 'x');

// ---- reductions -----------------------------------------------------------------------
const s1 = scores.sum('t');
export const okSum: Equal<typeof s1, Tensor<['b', 'h', 's']>> = true;
const s2 = sum(scores, 'h t');
export const okSum2: Equal<typeof s2, Tensor<['b', 's']>> = true;
const m1 = scores.max('s');
export const okMax: Equal<typeof m1, Tensor<['b', 'h', 't']>> = true;
const m2 = max(scores, 'b t');
export const okMax2: Equal<typeof m2, Tensor<['h', 's']>> = true;
const m3 = max(scores, 0);
export const okMaxElementwise: Equal<typeof m3, Tensor<['b', 'h', 's', 't']>> = true;
const sAll = q.sum('b h s d');
export const okSumAll: Equal<typeof sAll, Tensor<[]>> = true;
// @ts-expect-error sum over an axis the tensor lacks
scores.sum('d');
// @ts-expect-error sum (function) over an axis the tensor lacks
sum(scores, 'h x');
// @ts-expect-error max over an axis the tensor lacks
scores.max('z');
// @ts-expect-error max (function) over an axis the tensor lacks
max(scores, 'z');
// run-time axis lists are not checked
const someAxis: string = 't';
const dynSum = scores.sum(someAxis);
export const okDynamicSum: Equal<typeof dynSum, Tensor<string[]>> = true;

// ---- views ----------------------------------------------------------------------------
const renamed = k.rename('t', 'u');
export const okRename: Equal<typeof renamed, Tensor<['b', 'h', 'u', 'd']>> = true;
const split = q.split('h', 'g r');
export const okSplit: Equal<typeof split, Tensor<['b', 'g', 'r', 's', 'd']>> = true;
const merged = split.merge('g r', 'h');
export const okMerge: Equal<typeof merged, Tensor<['b', 'h', 's', 'd']>> = true;
// merging non-adjacent axes: the merged axis goes where the first of them (in the tensor) was
const x3 = input('x3', 'a b c');
const mergedAc = x3.merge('c a', 'm');
export const okMergeNonAdjacent: Equal<typeof mergedAc, Tensor<['m', 'b']>> = true;
const transposed = q.transpose('b s h d');
export const okTranspose: Equal<typeof transposed, Tensor<['b', 's', 'h', 'd']>> = true;
// @ts-expect-error rename of an axis the tensor lacks
q.rename('t', 'u');
// @ts-expect-error split of an axis the tensor lacks
q.split('t', 'g r');
// @ts-expect-error merge of an axis the tensor lacks
q.merge('s x', 'm');
// @ts-expect-error transpose that drops an axis
q.transpose('b s h');
// @ts-expect-error transpose that names an axis the tensor lacks
q.transpose('b s h d x');

// ---- gather ---------------------------------------------------------------------------
const pages = input('pages', 'p blk h d');
const table = input('table', 'b m', 'i32');
const gathered = pages.gather('p', table);
export const okGather: Equal<typeof gathered, Tensor<['b', 'm', 'blk', 'h', 'd']>> = true;
const kv = gathered.merge('m blk', 't');
export const okPaged: Equal<typeof kv, Tensor<['b', 't', 'h', 'd']>> = true;
const batched = input('cache', 'b n d').gather('n', table);
export const okBatchedGather: Equal<typeof batched, Tensor<['b', 'm', 'd']>> = true;
// @ts-expect-error gather along an axis the tensor lacks
pages.gather('n', table);
