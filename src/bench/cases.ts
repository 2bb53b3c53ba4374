/**
 * The benchmark's problems: which variant, options and sizes each row runs. The
 * default set is issue 7's: MHA prefill, GQA/MQA decode and MLA decode at
 * DeepSeek-V2 shapes.
 */
import { fail } from '../errors.ts';
import { findVariant, resolveOptions, variants, type Variant } from '../variants/index.ts';

/** One benchmark problem. */
export interface BenchCase {
  /** stable id, e.g. 'mha-prefill-1024-causal' */
  id: string;
  variant: string;
  opts: Record<string, boolean | number>;
  dims: Record<string, number>;
  kind: 'prefill' | 'decode';
  /** 'f16': einattn computes the Q·K and P·V products in f16 (sums and softmax in f32); peers run only f32 rows */
  compute?: 'f16';
}

const mhaPrefill = (n: number, causal: boolean): BenchCase => ({
  id: `mha-prefill-${n}${causal ? '-causal' : ''}`,
  variant: 'mha',
  opts: { causal },
  kind: 'prefill',
  dims: { b: 1, h: 8, s: n, t: n, d: 64, dv: 64 },
});
const gqaDecode = (t: number): BenchCase => ({
  id: `gqa-decode-${t}`,
  variant: 'gqa',
  opts: {},
  kind: 'decode',
  dims: { b: 1, h: 32, g: 8, s: 1, t, d: 128, dv: 128 },
});
const mqaDecode = (t: number): BenchCase => ({
  id: `mqa-decode-${t}`,
  variant: 'mqa',
  opts: {},
  kind: 'decode',
  dims: { b: 1, h: 32, s: 1, t, d: 128, dv: 128 },
});
/** DeepSeek-V2: 128 heads, latent 512, decoupled RoPE 64, nope/value head dims 128 (arXiv:2405.04434, table 1 / appendix). */
const mlaDecode = (t: number): BenchCase => ({
  id: `mla-decode-${t}`,
  variant: 'mla_decode',
  opts: {},
  kind: 'decode',
  dims: { b: 1, h: 128, s: 1, t, dn: 128, dr: 64, dc: 512, dv: 128 },
});

/** A zoo variant (issue 21) at s = t = n next to causal MHA's row at the same sizes. */
const zoo = (variant: string, n: number, opts: Record<string, boolean | number> = {}, extra: Record<string, number> = {}): BenchCase => ({
  id: `${variant}-prefill-${n}`,
  variant,
  opts,
  kind: 'prefill',
  dims: { b: 1, h: 8, s: n, t: n, d: 64, dv: 64, ...extra },
});

/** The zoo's rows: differential attention (two score products), sigmoid (no normaliser), MoBA (block-sparse). */
export const ZOO_CASES: readonly BenchCase[] = [
  zoo('diff', 1024, { causal: true }),
  zoo('sigmoid', 1024, { causal: true }),
  zoo('moba', 1024, {}, { blk: 64 }),
];

/** A row in reduced precision: f16 products, or an int8 KV cache (per-token scales). */
const f16 = (c: BenchCase): BenchCase => ({ ...c, id: `${c.id}-f16`, compute: 'f16' });
const int8 = (c: BenchCase): BenchCase => ({ ...c, id: `${c.id}-int8`, opts: { ...c.opts, int8: true } });

/** Every default row, in the order the report shows them. */
export const DEFAULT_CASES: readonly BenchCase[] = [
  mhaPrefill(256, false),
  mhaPrefill(256, true),
  mhaPrefill(1024, false),
  mhaPrefill(1024, true),
  f16(mhaPrefill(1024, false)),
  gqaDecode(1024),
  gqaDecode(4096),
  gqaDecode(8192),
  f16(gqaDecode(4096)),
  int8(gqaDecode(4096)),
  mqaDecode(1024),
  mqaDecode(8192),
  mlaDecode(1024),
  mlaDecode(4096),
  ...ZOO_CASES,
];

/** The default rows shrunk for a quick look (and for the tests): same variants, small sizes. */
export const QUICK_CASES: readonly BenchCase[] = [
  mhaPrefill(128, false),
  mhaPrefill(128, true),
  gqaDecode(512),
  f16(gqaDecode(512)),
  int8(gqaDecode(512)),
  mqaDecode(512),
  { ...mlaDecode(256), dims: { b: 1, h: 16, s: 1, t: 256, dn: 128, dr: 64, dc: 512, dv: 128 } },
];

/**
 * The variant behind a case, or a USAGE error listing the names.
 * @example variantOf('gqa').name // 'gqa'
 */
export function variantOf(name: string): Variant {
  const v = findVariant(name);
  if (!v) fail('USAGE', `bench: no variant '${name}' (variants: ${variants.map((x) => x.name).join(', ')})`);
  return v;
}

/**
 * A one-off row: a variant at given sizes and options (what `einattn bench --only v --dims …` runs).
 * @example customCase('gqa', { b: 1, h: 32, g: 8, s: 1, t: 2048, d: 128, dv: 128 })
 */
export function customCase(variant: string, dims: Record<string, number>, opts: Record<string, boolean | number> = {}): BenchCase {
  const v = variantOf(variant);
  const resolved = resolveOptions(v, opts);
  const given = Object.entries(opts)
    .map(([k, x]) => `-${k}${x === true ? '' : `=${x}`}`)
    .join('');
  return { id: `${variant}${given}-${Object.values(dims).join('x')}`, variant, opts: resolved, dims, kind: dims.s === 1 ? 'decode' : 'prefill' };
}

/**
 * The rows `--only` selects: a case id, or every default case of a variant.
 * @example selectCases(DEFAULT_CASES, 'gqa').map((c) => c.id) // ['gqa-decode-1024', 'gqa-decode-4096', 'gqa-decode-8192', 'gqa-decode-4096-f16', 'gqa-decode-4096-int8']
 */
export function selectCases(cases: readonly BenchCase[], only: string | undefined): BenchCase[] {
  // a variant name selects its rows in every precision
  if (only === undefined) return [...cases];
  const picked = cases.filter((c) => c.id === only || c.variant === only);
  if (!picked.length) {
    if (!findVariant(only))
      fail('USAGE', `bench: no row or variant '${only}' (rows: ${cases.map((c) => c.id).join(', ')}; variants: ${variants.map((v) => v.name).join(', ')})`);
    fail('USAGE', `bench: no default row for variant '${only}'; give its sizes with --dims (rows: ${cases.map((c) => c.id).join(', ')})`);
  }
  return picked;
}

/** Sizes as text: 'b=1 h=8 s=1024 …'. */
export const dimsLabel = (dims: Record<string, number>): string =>
  Object.entries(dims)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
