/** The library of built-in attention variants, written in the DSL. */
import { gqaInt8Variant, gqaVariant, mqaVariant } from './gqa.ts';
import { linformerVariant } from './linformer.ts';
import { mhaVariant } from './mha.ts';
import { mlaDecodeVariant, mlaVariant } from './mla.ts';
import { pagedVariant } from './paged.ts';
import type { Variant } from './variant.ts';

export { mha } from './mha.ts';
export { gqa, mqa, type GqaOptions } from './gqa.ts';
export { int8OptionDoc, KV_LAYOUTS, kvAppendInt8, kvInput, type KvLayout } from './int8.ts';
export { mla, type MlaOptions } from './mla.ts';
export { paged } from './paged.ts';
export { linformer, type LinformerOptions } from './linformer.ts';
export { attend, attentionOptions, attentionOptionDocs, type AttentionOptions, type HeadMap } from './mods.ts';
export { checkAppendRoom, checkLengths } from './checks.ts';
export { contractionCost, reorderContractions } from '../ir/reorder.ts';
export { resolveOptions, type Variant, type VariantOption } from './variant.ts';

/** Every built-in variant, in the order `einattn list` shows them. */
export const variants: readonly Variant[] = [
  mhaVariant, mqaVariant, gqaVariant, gqaInt8Variant, mlaVariant, mlaDecodeVariant, pagedVariant, linformerVariant,
];

/**
 * Finds a built-in variant by name.
 * @example findVariant('mha').build({ causal: true })
 */
export function findVariant(name: string): Variant | undefined {
  return variants.find((v) => v.name === name);
}
