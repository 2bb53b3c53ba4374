/**
 * Input and output arrays of a CLI run: deterministic pseudo-random inputs, `.npy`
 * inputs checked against the graph's declaration, and outputs converted for `.npy`.
 */
import type { Graph, Node } from '../index.ts';
import { EinattnError } from '../errors.ts';
import { readFile } from 'node:fs/promises';
import { evalSize, f16ArrayToF32, f32ArrayToF16, parseNpy, type HostArray, type NpyArray, type SizeExpr } from '../runtime/index.ts';
import type { ExecPlan } from '../runtime/plan.ts';
import { usage } from './args.ts';
import { axesText } from './format.ts';
import { seededRandom } from '../tune/inputs.ts';

export { seededRandom };

/** One input, in the forms the GPU and the interpreter each take. */
export interface CliInput {
  name: string;
  dtype: 'f32' | 'f16' | 'i32' | 'i8';
  axes: string[];
  shape: number[];
  /** for compile().run: f16 as a Uint16Array of bits */
  gpu: HostArray;
  /** for interpret(): values (f16 widened, so both sides see the same numbers) */
  values: Float32Array | Int32Array | Int8Array;
  /** 'random (seed N)' or the file it came from */
  source: string;
}

/** Where one input of `einattn run` comes from. */
export type InputSource = { kind: 'file'; path: string } | { kind: 'random' };

/** Every input's source, and the inputs that have none (see {@link inputSources}). */
export interface InputSources {
  sources: Map<string, InputSource>;
  /** inputs neither given by --in nor asked for as random: an error once files are read */
  missing: string[];
}

/**
 * Decides where each input comes from. With no `--in` at all every input is pseudo-random,
 * the default. Once any input comes from a file, each other input must be asked for: by name
 * with `--random NAME` (repeatable, or comma-separated), or all at once with `--random-rest`;
 * one left out is reported by {@link missingInputs}, never filled in silently. Unknown names,
 * and a name given both ways, are USAGE errors.
 * @example inputSources(['q', 'k', 'v'], [['q', 'q.npy']], ['k'], false).missing // ['v']
 */
export function inputSources(names: readonly string[], files: readonly [string, string][], random: readonly string[], rest: boolean): InputSources {
  const inputs = `(inputs: ${names.join(', ') || 'none'})`;
  const fromFile = new Map(files);
  for (const [name, path] of files) if (!names.includes(name)) usage(`--in ${name}=${path}: the graph has no input '${name}' ${inputs}`);
  const asked = new Set<string>();
  for (const name of random.flatMap((r) => r.split(',')).map((r) => r.trim())) {
    if (name === '') usage(`--random needs an input name ${inputs}`);
    if (!names.includes(name)) usage(`--random ${name}: the graph has no input '${name}' ${inputs}`);
    if (fromFile.has(name)) usage(`--random ${name}: input '${name}' is already read from --in ${name}=${fromFile.get(name)}`);
    asked.add(name);
  }
  const sources = new Map<string, InputSource>();
  const missing: string[] = [];
  for (const name of names) {
    const path = fromFile.get(name);
    if (path !== undefined) sources.set(name, { kind: 'file', path });
    else if (files.length === 0 || rest || asked.has(name)) sources.set(name, { kind: 'random' });
    else missing.push(name);
  }
  return { sources, missing };
}

/**
 * The USAGE error for inputs that `--in` left without values: it names them and the flags
 * that fill them.
 * @example missingInputs(['k', 'v'], ['q']) // throws: inputs 'k', 'v' have no values (--in gives only q): …
 */
export function missingInputs(missing: readonly string[], fromFiles: readonly string[]): never {
  const quoted = missing.map((n) => `'${n}'`).join(', ');
  const files = missing.map((n) => `--in ${n}=FILE.npy`).join(' ');
  const what = missing.length === 1 ? `input ${quoted} has no value` : `inputs ${quoted} have no values`;
  usage(
    `${what} (--in gives only ${fromFiles.join(', ')}): give ${missing.length === 1 ? 'it' : 'them'} with ${files}, ` +
      `or ask for pseudo-random values with --random ${missing.join(',')} or --random-rest`,
  );
}

/**
 * A per-input seed, so that supplying one input from a file leaves the others' values unchanged.
 * @example inputSeed(0, 'q') !== inputSeed(0, 'k')
 */
export function inputSeed(seed: number, name: string): number {
  let h = (seed ^ 0x9e3779b9) >>> 0;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

function stripViews(n: Node): Node {
  while (n.op === 'view' || n.op === 'cast') n = n.x;
  return n;
}

/**
 * The valid value range [0, size) of i32 inputs used as gather indices, from the plan's
 * index checks when there is a plan and from the graph's gathers otherwise.
 * @example indexRanges(paged(), { b: 1, h: 2, g: 1, s: 1, n: 64, blk: 4, m: 8, d: 8, dv: 8 }) // { block_table: 64 }
 */
export function indexRanges(graph: Graph, sizes: Record<string, number>, plan?: ExecPlan): Record<string, number> {
  const ranges: Record<string, number> = {};
  const narrow = (name: string, n: number) => (ranges[name] = Math.min(ranges[name] ?? Infinity, n));
  for (const n of graph.nodes) {
    if (n.op !== 'gather') continue;
    const idx = stripViews(n.index);
    const size = sizes[n.axis];
    if (idx.op === 'input' && size !== undefined) narrow(idx.name, size);
  }
  // lengths and positions bounded by a size (kv_len ≤ t): values 0..size inclusive
  for (const i of graph.inputs) if (i.max !== undefined && sizes[i.max] !== undefined) narrow(i.name, sizes[i.max]! + 1);
  if (plan?.indexChecks) {
    for (const c of plan.indexChecks) {
      const size = evalSizeOr(c.size, sizes);
      if (size !== undefined) narrow(c.buffer, size);
    }
  }
  return ranges;
}

/** A size expression's value, or undefined when it names a size not bound here. */
function evalSizeOr(e: SizeExpr, sizes: Record<string, number>): number | undefined {
  try {
    return evalSize(e, sizes);
  } catch {
    return undefined;
  }
}

/**
 * Deterministic inputs: f32/f16 uniform in [-1, 1), i32 uniform in the gather range (else 0..3),
 * i8 uniform in -127..127 (an int8 cache; its f32 scales are ordinary f32 inputs).
 * @example randomInput(g.inputs[0], sizes, 0, {})
 */
export function randomInput(decl: Graph['inputs'][number], sizes: Record<string, number>, seed: number, ranges: Record<string, number>): CliInput {
  const shape = decl.axes.map((a) => sizes[a]!);
  const count = shape.reduce((p, x) => p * x, 1);
  const rnd = seededRandom(inputSeed(seed, decl.name));
  const base = { name: decl.name, axes: [...decl.axes], shape, source: `random (seed ${seed})` };
  if (decl.dtype === 'i32') {
    const hi = ranges[decl.name] ?? 4;
    const data = new Int32Array(count);
    for (let i = 0; i < count; i++) data[i] = Math.floor(rnd() * hi);
    return { ...base, dtype: 'i32', gpu: data, values: data };
  }
  if (decl.dtype === 'i8') {
    const data = new Int8Array(count);
    for (let i = 0; i < count; i++) data[i] = Math.floor(rnd() * 255) - 127;
    return { ...base, dtype: 'i8', gpu: data, values: data };
  }
  const values = new Float32Array(count);
  for (let i = 0; i < count; i++) values[i] = rnd() * 2 - 1;
  if (decl.dtype === 'f16') {
    const bits = f32ArrayToF16(values);
    return { ...base, dtype: 'f16', gpu: bits, values: f16ArrayToF32(bits) };
  }
  return { ...base, dtype: 'f32', gpu: values, values };
}

/**
 * Reads an input from `.npy` and checks its dtype and shape against the graph's
 * declaration at the run's sizes; errors name the file and the input.
 * @example await npyInput('q.npy', g.inputs[0], sizes)
 */
export async function npyInput(path: string, decl: Graph['inputs'][number], sizes: Record<string, number>): Promise<CliInput> {
  let bytes: Uint8Array;
  try {
    const buf = await readFile(path);
    // A plain Uint8Array copy, not a Buffer: Buffer.slice() is a view, and a parser that
    // slices the data and takes `.buffer` would then see the whole file (header included).
    bytes = new Uint8Array(buf.byteLength);
    bytes.set(buf);
  } catch (e) {
    throw new EinattnError('NPY', `${path}: cannot read (input '${decl.name}'): ${(e as Error).message}`);
  }
  let arr: NpyArray;
  try {
    arr = parseNpy(bytes, path);
  } catch (e) {
    // The parser names the file; say which input it was meant for too.
    if (e instanceof EinattnError) throw new EinattnError(e.code, `${e.message} (input '${decl.name}')`);
    throw e;
  }
  const shape = decl.axes.map((a) => sizes[a]!);
  const want = `${decl.dtype}${axesText(decl.axes, sizes)}`;
  if (arr.dtype !== decl.dtype)
    throw new EinattnError('BAD_INPUT', `${path}: input '${decl.name}' expects ${want}, got dtype ${arr.dtype} (shape [${arr.shape.join(', ')}])`);
  if (arr.shape.length !== shape.length || arr.shape.some((n, i) => n !== shape[i]))
    throw new EinattnError('BAD_INPUT', `${path}: input '${decl.name}' expects ${want}, got shape [${arr.shape.join(', ')}]`);
  const base = { name: decl.name, axes: [...decl.axes], shape, source: path };
  if (arr.dtype === 'f16') return { ...base, dtype: 'f16', gpu: arr.data, values: f16ArrayToF32(arr.data as Uint16Array) };
  if (arr.dtype === 'i32') return { ...base, dtype: 'i32', gpu: arr.data, values: arr.data as Int32Array };
  if (arr.dtype === 'i8') return { ...base, dtype: 'i8', gpu: arr.data, values: arr.data as Int8Array };
  return { ...base, dtype: 'f32', gpu: arr.data, values: arr.data as Float32Array };
}

/**
 * An output array (GPU or interpreter values) as `.npy` data of the graph's output dtype.
 * @example writeNpySync('o.npy', toNpy('f32', [1, 2], result.data))
 */
export function toNpy(dtype: string, shape: number[], values: ArrayLike<number>): NpyArray {
  if (dtype === 'i32') return { dtype: 'i32', shape, data: values instanceof Int32Array ? values : Int32Array.from(values) };
  if (dtype === 'i8') return { dtype: 'i8', shape, data: values instanceof Int8Array ? values : Int8Array.from(values) };
  if (dtype === 'f16') return { dtype: 'f16', shape, data: f32ArrayToF16(values) };
  return { dtype: 'f32', shape, data: values instanceof Float32Array ? values : Float32Array.from(values) };
}
