/** The library of built-in attention variants, written in the DSL. */
import { mhaVariant } from './mha.ts';
import type { Variant } from './variant.ts';

export { mha } from './mha.ts';
export { resolveOptions, type Variant, type VariantOption } from './variant.ts';

/** Every built-in variant, in the order `einattn list` shows them. */
export const variants: readonly Variant[] = [mhaVariant];

/**
 * Finds a built-in variant by name.
 * @example findVariant('mha').build({ causal: true })
 */
export function findVariant(name: string): Variant | undefined {
  return variants.find((v) => v.name === name);
}
