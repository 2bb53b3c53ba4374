// einattn list marks each variant fused or not (lowered at its bench dims, no GPU).
import { expect, test } from 'vitest';
import { describeVariant, formatListing, fusion } from '../../src/cli/list.ts';
import { findVariant, type Variant } from '../../src/variants/index.ts';

test('a fused variant is marked fused', () => {
  const l = describeVariant(findVariant('gqa')!);
  expect(l.fused).toBe(true);
  expect(l.unfused).toBeUndefined();
  expect(formatListing(l)).toMatch(/^ {2}fused: {3}yes$/m);
});

test('an unfused variant is marked with the reason', () => {
  const m = findVariant('mha')!;
  // a variant whose graph the lowering keeps unfused: the softmax is also an output
  const withProbs: Variant = {
    ...m,
    name: 'mha_probs',
    build: () => {
      const g = m.build();
      return { ...g, outputs: [...g.outputs, { name: 'p', node: g.nodes.find((n) => n.op === 'softmax')! }] };
    },
  };
  const f = fusion(withProbs);
  expect(f.fused).toBe(false);
  expect(f.unfused).toMatch(
    /^temporary _einsum0\[b h s t\] holds query axis s and key axis t \(einsum\('b h s t, b h t dv -> b h s dv', p, v\): the softmax is also used elsewhere/,
  );
  expect(formatListing(describeVariant(withProbs))).toMatch(/^ {2}fused: {3}no: temporary _einsum0\[b h s t\]/m);
});

test('a variant that does not lower is not fused, and says why', () => {
  const m = findVariant('mha')!;
  const broken: Variant = {
    ...m,
    build: () => {
      throw new Error('boom\nsecond line');
    },
  };
  expect(fusion(broken)).toEqual({ fused: false, unfused: 'it does not lower: boom second line' });
});
