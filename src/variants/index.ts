/** The library of built-in attention variants, written in the DSL. */
import { diffVariant } from './diff.ts';
import { foxVariant } from './fox.ts';
import { linearVariant } from './linear.ts';
import { mobaVariant } from './moba.ts';
import { relbiasVariant } from './relbias.ts';
import { sigmoidVariant } from './sigmoid.ts';
import { gqaInt8Variant, gqaVariant, mqaVariant } from './gqa.ts';
import { linformerVariant } from './linformer.ts';
import { mhaVariant } from './mha.ts';
import { mlaDecodeVariant, mlaVariant } from './mla.ts';
import { pagedVariant } from './paged.ts';
import { qknormVariant } from './qknorm.ts';
import type { Variant } from './variant.ts';

export { mha } from './mha.ts';
export { gqa, mqa, type GqaOptions } from './gqa.ts';
export { int8OptionDoc, KV_LAYOUTS, kvAppendInt8, kvInput, type KvLayout } from './int8.ts';
export { mla, type MlaOptions } from './mla.ts';
export { paged } from './paged.ts';
export { diff } from './diff.ts';
export { sigmoidAttention, type SigmoidOptions } from './sigmoid.ts';
export { linearAttention, type LinearOptions } from './linear.ts';
export { relbias } from './relbias.ts';
export { fox } from './fox.ts';
export { qknorm } from './qknorm.ts';
export { moba, type MobaOptions } from './moba.ts';
export { linformer, type LinformerOptions } from './linformer.ts';
export { attend, attentionMods, attentionOptions, attentionOptionDocs, type AttentionMods, type AttentionOptions, type HeadMap } from './mods.ts';
export { checkAppendRoom, checkLengths } from './checks.ts';
export { contractionCost, reorderContractions } from '../ir/reorder.ts';
export { resolveOptions, type Variant, type VariantOption } from './variant.ts';

/** Every built-in variant, in the order `einattn list` shows them. */
export const variants: readonly Variant[] = [
  mhaVariant,
  mqaVariant,
  gqaVariant,
  gqaInt8Variant,
  mlaVariant,
  mlaDecodeVariant,
  pagedVariant,
  linformerVariant,
  // the zoo: attention from recent papers, written the paper's way
  diffVariant,
  sigmoidVariant,
  linearVariant,
  relbiasVariant,
  foxVariant,
  qknormVariant,
  mobaVariant,
];

/**
 * Finds a built-in variant by name.
 * @example findVariant('mha').build({ causal: true })
 */
export function findVariant(name: string): Variant | undefined {
  return variants.find((v) => v.name === name);
}
