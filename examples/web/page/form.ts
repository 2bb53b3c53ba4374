/**
 * The playground's form: a variant, its options and its sizes, built from the variant's own
 * declaration (`variants` of einattn), read back into plain values, and kept in the URL's
 * query string so that a configuration can be shared (and a test can open one directly).
 */
import { resolveOptions, variants, type Variant } from 'einattn';

/** What the form says to run. */
export interface Settings {
  variant: Variant;
  options: Record<string, boolean | number>;
  dims: Record<string, number>;
  storage: 'f32' | 'f16';
  compute: 'f32' | 'f16';
  check: boolean;
}

const el = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

function field(label: string, input: HTMLInputElement, title: string): HTMLLabelElement {
  const l = document.createElement('label');
  l.title = title;
  l.append(input, ` ${label}`);
  return l;
}

/** Fills the options and sizes of `v` (values from `query` where it names them). */
export function fillVariant(v: Variant, query: URLSearchParams, sizes: 'check' | 'bench' = 'check'): void {
  el('summary').textContent = v.summary;
  const opts = el('options');
  opts.replaceChildren();
  for (const [name, o] of Object.entries(v.options)) {
    const input = document.createElement('input');
    input.id = `opt-${name}`;
    input.name = name;
    const q = query.get(name);
    if (o.type === 'boolean') {
      input.type = 'checkbox';
      input.checked = q === null ? (o.default as boolean) : q === '1' || q === 'true';
    } else {
      input.type = 'number';
      input.value = q ?? String(o.default);
      input.step = 'any';
    }
    opts.append(field(name, input, o.doc));
  }
  const dims = el('dims');
  dims.replaceChildren();
  for (const [name, value] of Object.entries(v.dims[sizes])) {
    const input = document.createElement('input');
    input.type = 'number';
    input.min = '1';
    input.id = `dim-${name}`;
    input.name = name;
    input.value = query.get(name) ?? String(value);
    dims.append(field(name, input, `size of axis ${name}`));
  }
}

/** Fills the variant list and selects the query's variant (default mha). */
export function initForm(query: URLSearchParams): void {
  const select = el<HTMLSelectElement>('variant');
  select.replaceChildren(...variants.map((v) => new Option(v.name, v.name)));
  const name = query.get('variant') ?? 'mha';
  select.value = variants.some((v) => v.name === name) ? name : 'mha';
  for (const id of ['storage', 'compute'] as const) if (query.get(id) === 'f16') el<HTMLSelectElement>(id).value = 'f16';
  if (query.get('check') === '0') el<HTMLInputElement>('check').checked = false;
  fillVariant(selected(), query);
}

/** The variant the list shows. */
export function selected(): Variant {
  return variants.find((v) => v.name === el<HTMLSelectElement>('variant').value)!;
}

/** Reads the form; a size that is not a positive integer is an error naming it. */
export function readSettings(): Settings {
  const variant = selected();
  const given: Record<string, boolean | number> = {};
  for (const input of el('options').querySelectorAll('input')) given[input.name] = input.type === 'checkbox' ? input.checked : Number(input.value);
  const dims: Record<string, number> = {};
  for (const input of el('dims').querySelectorAll('input')) {
    const v = Number(input.value);
    if (!Number.isSafeInteger(v) || v < 1) throw new Error(`size ${input.name} must be a positive integer, got '${input.value}'`);
    dims[input.name] = v;
  }
  return { variant, options: resolveOptions(variant, given), dims, ...readPrecision() };
}

/** The precision and check settings, which the snippet editor's runs use too. */
export function readPrecision(): Pick<Settings, 'storage' | 'compute' | 'check'> {
  return {
    storage: el<HTMLSelectElement>('storage').value as 'f32' | 'f16',
    compute: el<HTMLSelectElement>('compute').value as 'f32' | 'f16',
    check: el<HTMLInputElement>('check').checked,
  };
}

/** The settings as a query string: options that differ from their defaults, every size. */
export function toQuery(s: Settings): string {
  const q = new URLSearchParams({ variant: s.variant.name });
  for (const [k, v] of Object.entries(s.options)) if (v !== s.variant.options[k]!.default) q.set(k, String(v));
  for (const [k, v] of Object.entries(s.dims)) q.set(k, String(v));
  if (s.storage === 'f16') q.set('storage', 'f16');
  if (s.compute === 'f16') q.set('compute', 'f16');
  if (!s.check) q.set('check', '0');
  return q.toString();
}
