/**
 * The playground's snippet editor: a user's own DSL program, in TypeScript, type-checked in the
 * page, transpiled and evaluated with `einattn` and `einattn/runtime` as its only imports. The
 * graph it exports then runs as a variant's does (run.ts).
 *
 * The TypeScript compiler is loaded at run time from `typescript/` (the server maps it to
 * node_modules/typescript/lib), not bundled. The type check is the compiler's own
 * (`createProgram`) over an in-memory file system: the ES library files from `typescript/`,
 * einattn's declaration files from `types/einattn/` (dist/, built by `npm run build`) and the
 * WebGPU types they reference, each fetched once, following their references. So the typed-axes
 * errors a user sees in an editor appear here too. Evaluation is the snippet transpiled to
 * CommonJS and called with a `require` that knows the two einattn modules.
 */
import * as einattn from 'einattn';
import { snippetDiagnostics, Tensor, TypecheckResult, type Graph, type SnippetDiagnostic } from 'einattn';
import * as runtime from 'einattn/runtime';
import type * as TS from 'typescript';
import { errorText } from './results.ts';

/** The TypeScript compiler's API (the page loads it as a script, so it is `globalThis.ts`). */
export type TypeScript = typeof TS;

/** The snippet the editor starts with: causal attention with a tanh softcap and an ALiBi bias. */
export const EXAMPLE_SNIPPET = `// Your own attention in einattn's DSL. Edit it and press "run snippet": it is
// type-checked here (a wrong axis is a compile error), run on your GPU at the sizes
// below and checked against the interpreter. Export the graph to run.
import { einsum, graph, index, input, size, softmax } from 'einattn';

const q = input('q', 'b h s d');
const k = input('k', 'b h t d');
const v = input('v', 'b h t dv');
const slopes = input('slopes', 'h'); // one ALiBi slope per head

const s = index('s');
const t = index('t');
const logits = einsum('b h s d, b h t d -> b h s t', q, k).mul(size('d').rsqrt());
const capped = logits.div(20).tanh().mul(20); // tanh softcap at 20
const alibi = t.sub(s).abs().cast('f32').mul(slopes.neg()); // farther keys weigh less
// causal: the softmax's mask gives masked keys weight 0 (where(t.le(s), x, -Infinity) works too)
const p = softmax(capped.add(alibi), 't', { mask: t.le(s) });
const o = einsum('b h s t, b h t dv -> b h s dv', p, v);

export default graph('alibi_softcap', { o });
`;

/** The sizes the editor starts with. */
export const EXAMPLE_SIZES = 'b=1 h=2 s=12 t=12 d=8 dv=8';

/** The file name diagnostics and run-time errors name. */
export const SNIPPET_FILE = 'snippet.ts';

/**
 * Sizes written as `name=value` pairs, separated by spaces or commas.
 * @example parseSizes('b=1 h=2, s=12') // { b: 1, h: 2, s: 12 }
 */
export function parseSizes(text: string): Record<string, number> {
  const dims: Record<string, number> = {};
  for (const part of text.split(/[\s,]+/).filter(Boolean)) {
    const m = /^([A-Za-z_]\w*)=(\d+)$/.exec(part);
    const value = m ? Number(m[2]) : NaN;
    if (!m || !Number.isSafeInteger(value) || value < 1) throw new Error(`sizes: '${part}' is not name=positive integer (e.g. s=12)`);
    dims[m[1]!] = value;
  }
  return dims;
}

let loading: Promise<TypeScript> | undefined;

/**
 * The TypeScript compiler, loaded once from `typescript/typescript.js` beside the page (about
 * 9 MB; a classic script that defines `ts`). Rejects saying where it looked.
 */
export function loadTypeScript(): Promise<TypeScript> {
  loading ??= new Promise<TypeScript>((ok, fail) => {
    const url = new URL('typescript/typescript.js', location.href).href;
    const script = document.createElement('script');
    script.src = url;
    script.onload = () => {
      const ts = (globalThis as { ts?: TypeScript }).ts;
      if (ts && typeof ts.transpileModule === 'function') ok(ts);
      else fail(new Error(`${url} loaded but defined no TypeScript compiler`));
    };
    script.onerror = () => fail(new Error(`could not load the TypeScript compiler from ${url} (the snippet editor needs the page served by npm run web)`));
    document.head.append(script);
  }).catch((e: unknown) => {
    loading = undefined; // let a later run try again
    throw e;
  });
  return loading;
}

// ---- the type check ----------------------------------------------------------------------

const LIB = '/lib/';
const EINATTN = '/node_modules/einattn/';
const WEBGPU = '/node_modules/@webgpu/types/';
const SNIPPET_PATH = `/${SNIPPET_FILE}`;
const GLOBALS_PATH = '/globals.d.ts';
const ES_LIB = 'lib.es2023.d.ts';

/** In-memory path prefix → URL prefix beside the page (examples/web/build.ts WEB_ROUTES). */
const FETCHED: [string, string][] = [
  [LIB, 'typescript/'],
  [`${EINATTN}dist/`, 'types/einattn/'],
  [`${WEBGPU}dist/`, 'types/webgpu/dist/'],
];

/** Files made here: the two packages' manifests, and the one global a snippet may use beyond ES2023. */
const MADE: Record<string, string> = {
  [`${EINATTN}package.json`]: JSON.stringify({
    name: 'einattn',
    type: 'module',
    exports: { '.': { types: './dist/src/index.d.ts' }, './runtime': { types: './dist/src/runtime/index.d.ts' } },
  }),
  [`${WEBGPU}package.json`]: JSON.stringify({ name: '@webgpu/types', types: 'dist/index.d.ts' }),
  [GLOBALS_PATH]: 'declare var console: { log(...data: unknown[]): void; warn(...data: unknown[]): void; error(...data: unknown[]): void };\n',
};

/** What must load for the check to mean anything: the ES library and einattn's two entry points. */
const ROOTS = [LIB + ES_LIB, `${EINATTN}dist/src/index.d.ts`, `${EINATTN}dist/src/runtime/index.d.ts`];

function normalize(path: string): string {
  const out: string[] = [];
  for (const part of path.split('/')) {
    if (part === '..') out.pop();
    else if (part !== '.' && part !== '') out.push(part);
  }
  return `/${out.join('/')}`;
}

/** The in-memory declaration file a reference from `from` names, if it is one this page serves. */
function referenced(spec: string, from: string): string | undefined {
  if (spec === '@webgpu/types') return `${WEBGPU}dist/index.d.ts`;
  if (!spec.startsWith('.')) return undefined; // Node-only modules (typescript, node:util …): unresolved, as in a browser
  return normalize(from.slice(0, from.lastIndexOf('/') + 1) + spec).replace(/\.(d\.ts|ts|js|mts|mjs)$/, '') + '.d.ts';
}

/** The in-memory files of the type check, fetched on first use and kept. */
class TypeFiles {
  readonly text = new Map<string, string>(Object.entries(MADE));
  private readonly sourceFiles = new Map<string, TS.SourceFile>();
  private dirs = new Set<string>();
  private old: TS.Program | undefined;
  private ready: Promise<void> | undefined;

  constructor(private readonly ts: TypeScript) {}

  /** Fetches the roots and everything they reference, a round of parallel requests per level. */
  load(): Promise<void> {
    this.ready ??= this.fetchAll().catch((e: unknown) => {
      this.ready = undefined;
      throw e;
    });
    return this.ready;
  }

  private async fetchAll(): Promise<void> {
    const missing: string[] = [];
    const tried = new Set<string>();
    let pending = ROOTS;
    while (pending.length) {
      const next = new Set<string>();
      await Promise.all(
        pending.map(async (path) => {
          const [prefix, url] = FETCHED.find(([p]) => path.startsWith(p))!;
          const href = new URL(url + path.slice(prefix.length), location.href).href;
          tried.add(path);
          const response = await fetch(href);
          if (!response.ok) {
            missing.push(`${href} (${response.status})`);
            return;
          }
          const text = await response.text();
          this.text.set(path, text);
          const info = this.ts.preProcessFile(text, true, true);
          for (const lib of info.libReferenceDirectives) next.add(`${LIB}lib.${lib.fileName.toLowerCase()}.d.ts`);
          for (const r of [...info.referencedFiles, ...info.typeReferenceDirectives, ...info.importedFiles]) {
            const file = referenced(r.fileName, path);
            if (file) next.add(file);
          }
        }),
      );
      pending = missing.length ? [] : [...next].filter((p) => !tried.has(p));
    }
    if (missing.length)
      throw new Error(
        `the type check could not load ${missing.join(', ')}: einattn's declaration files come from dist/ (run \`npm run build\`); ` +
          "untick 'type-check first' to run the snippet with syntax checks only",
      );
    this.dirs = new Set(
      [...this.text.keys()].flatMap((p) =>
        p
          .split('/')
          .slice(1, -1)
          .map((_, i, parts) => `/${parts.slice(0, i + 1).join('/')}`),
      ),
    );
  }

  /** The snippet's diagnostics: syntax errors, else the type errors (as tsc reports them). */
  check(source: string): SnippetDiagnostic[] {
    const ts = this.ts;
    const options: TS.CompilerOptions = {
      strict: true,
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.ESNext,
      moduleResolution: ts.ModuleResolutionKind.Bundler,
      lib: [ES_LIB],
      types: [],
      skipLibCheck: true,
      noEmit: true,
      allowImportingTsExtensions: true,
      isolatedModules: true,
    };
    const read = (f: string) => (f === SNIPPET_PATH ? source : this.text.get(f));
    const host: TS.CompilerHost = {
      getSourceFile: (f, language) => {
        if (f === SNIPPET_PATH) return ts.createSourceFile(f, source, language, true, ts.ScriptKind.TS);
        let sf = this.sourceFiles.get(f);
        const text = this.text.get(f);
        if (!sf && text !== undefined) this.sourceFiles.set(f, (sf = ts.createSourceFile(f, text, language)));
        return sf;
      },
      fileExists: (f) => read(f) !== undefined,
      readFile: read,
      directoryExists: (d) => d === '/' || this.dirs.has(d.replace(/\/$/, '')),
      getDirectories: () => [],
      getDefaultLibFileName: () => LIB + ES_LIB,
      getDefaultLibLocation: () => LIB,
      writeFile: () => {},
      getCurrentDirectory: () => '/',
      getCanonicalFileName: (f) => f,
      useCaseSensitiveFileNames: () => true,
      getNewLine: () => '\n',
      realpath: (f) => f,
    };
    const program = ts.createProgram({ rootNames: [SNIPPET_PATH, GLOBALS_PATH], options, host, ...(this.old ? { oldProgram: this.old } : {}) });
    this.old = program;
    const sf = program.getSourceFile(SNIPPET_PATH)!;
    const syntax = program.getSyntacticDiagnostics(sf);
    const all = syntax.length ? syntax : [...program.getOptionsDiagnostics(), ...program.getGlobalDiagnostics(), ...program.getSemanticDiagnostics(sf)];
    return snippetDiagnostics(ts, all, sf);
  }
}

/** Diagnostics as the compiler prints them (einattn's `typecheck()` format), as an error. */
function diagnosticsError(ts: TypeScript, found: SnippetDiagnostic[], source: string, what: string, hint: string): Error {
  const errors = found.filter((d) => d.category === 'error').length;
  const text = new TypecheckResult(found, SNIPPET_FILE, ts.version, source).text;
  return new Error(`${SNIPPET_FILE}: ${errors} ${what} error${errors === 1 ? '' : 's'}, so it was not run${hint}\n\n${text}`);
}

let files: TypeFiles | undefined;

/** What {@link typeCheckSnippet} found. */
export interface TypeCheck {
  diagnostics: SnippetDiagnostic[];
  ms: number;
  version: string;
}

/**
 * Type-checks the snippet as a module importing the built einattn; the first call fetches the
 * library and declaration files. Throws when they cannot be loaded, saying what to do.
 * @example const { diagnostics } = await typeCheckSnippet(ts, source)
 */
export async function typeCheckSnippet(ts: TypeScript, source: string): Promise<TypeCheck> {
  const t = performance.now();
  files ??= new TypeFiles(ts);
  await files.load();
  const diagnostics = files.check(source);
  return { diagnostics, ms: performance.now() - t, version: ts.version };
}

/** The type check's errors as a thrown error (nothing when there are none). */
export function throwTypeErrors(ts: TypeScript, check: TypeCheck, source: string): void {
  if (check.diagnostics.some((d) => d.category === 'error'))
    throw diagnosticsError(ts, check.diagnostics, source, 'type', " (untick 'type-check first' to run it anyway and see einattn's run-time check)");
}

// ---- evaluation ----------------------------------------------------------------------------

type AsyncFunctionOf = new (...args: string[]) => (...args: unknown[]) => Promise<unknown>;
const AsyncFunction = Object.getPrototypeOf(async () => {}).constructor as AsyncFunctionOf;

const isGraph = (x: unknown): x is Graph =>
  typeof x === 'object' && x !== null && typeof (x as Graph).name === 'string' && Array.isArray((x as Graph).nodes) && Array.isArray((x as Graph).outputs);

const EXPORT_HINT = "end the snippet with export default graph('name', { o })";

/** The graph the snippet exports: its default export, else its only exported graph. */
function exportedGraph(exports: Record<string, unknown>): Graph {
  const d = exports.default;
  if (isGraph(d)) return d;
  if (d instanceof Tensor) throw new Error(`${SNIPPET_FILE}: the default export is a tensor, not a graph: ${EXPORT_HINT}`);
  if (d !== undefined) throw new Error(`${SNIPPET_FILE}: the default export is not a graph (it is ${d === null ? 'null' : typeof d}): ${EXPORT_HINT}`);
  const graphs = Object.entries(exports).filter(([, v]) => isGraph(v));
  if (graphs.length === 1) return graphs[0]![1] as Graph;
  if (graphs.length > 1)
    throw new Error(`${SNIPPET_FILE}: it exports ${graphs.length} graphs (${graphs.map(([k]) => k).join(', ')}): make the one to run the default export`);
  throw new Error(`${SNIPPET_FILE}: it exports no graph: ${EXPORT_HINT}`);
}

/** The module a snippet may import: einattn and einattn/runtime, the page's own bundled copies. */
function snippetRequire(name: string): unknown {
  if (name === 'einattn') return einattn;
  if (name === 'einattn/runtime') return runtime;
  throw new Error(`it imports '${name}'; a snippet can import 'einattn' and 'einattn/runtime' only`);
}

const VLQ = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** Source-map segments of each generated line: [generated column, source line] (both 0-based). */
function decodeMappings(mappings: string): [number, number][][] {
  let srcLine = 0;
  return mappings.split(';').map((line) => {
    let col = 0;
    return line
      .split(',')
      .filter(Boolean)
      .map((segment) => {
        const values: number[] = [];
        let value = 0;
        let shift = 0;
        for (const c of segment) {
          const digit = VLQ.indexOf(c);
          value += (digit & 31) << shift;
          if (digit & 32) shift += 5;
          else {
            values.push(value & 1 ? -(value >>> 1) : value >>> 1);
            value = 0;
            shift = 0;
          }
        }
        col += values[0] ?? 0;
        srcLine += values[2] ?? 0;
        return [col, srcLine] as [number, number];
      });
  });
}

/** How many lines the engine puts before a Function body (V8: two), measured once. */
let bodyOffset: number | null | undefined;
async function functionBodyOffset(): Promise<number | null> {
  if (bodyOffset !== undefined) return bodyOffset;
  try {
    await new AsyncFunction('throw new Error("probe")\n//# sourceURL=einattn-probe.js')();
  } catch (e) {
    const m = /einattn-probe\.js:(\d+)/.exec(String((e as Error).stack));
    bodyOffset = m ? Number(m[1]) - 1 : null;
  }
  return (bodyOffset ??= null);
}

/** The snippet line (1-based) where `e` was thrown, from its stack and the transpiler's source map. */
async function snippetLine(e: unknown, sourceMap: string | undefined): Promise<number | null> {
  const m = /snippet\.js:(\d+):(\d+)/.exec(String((e as Error | undefined)?.stack ?? ''));
  const offset = await functionBodyOffset();
  if (!m || offset === null || !sourceMap) return null;
  const line = Number(m[1]) - 1 - offset;
  const column = Number(m[2]) - 1;
  const segments = decodeMappings((JSON.parse(sourceMap) as { mappings: string }).mappings)[line];
  const at = segments?.filter(([c]) => c <= column).pop() ?? segments?.[0];
  return at ? at[1] + 1 : null;
}

/** What the snippet threw, said as einattn's CLI says it (the error code first), with the snippet line. */
async function thrownBySnippet(e: unknown, sourceMap: string | undefined): Promise<Error> {
  const line = await snippetLine(e, sourceMap);
  const what = errorText(e);
  const error = new Error(`${SNIPPET_FILE}${line === null ? '' : `:${line}`}: ${what}`);
  error.cause = e;
  return error;
}

/**
 * Transpiles the snippet (syntax errors are thrown as the compiler prints them), runs it with
 * einattn in scope and returns the graph it exports. What the snippet throws is rethrown with
 * the snippet line it came from.
 * @example const g = await evaluateSnippet(ts, "import { input, graph } from 'einattn'; export default graph('g', { o: input('x', 'i').exp() })")
 */
export async function evaluateSnippet(ts: TypeScript, source: string): Promise<Graph> {
  const out = ts.transpileModule(source, {
    fileName: SNIPPET_FILE,
    reportDiagnostics: true,
    compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, sourceMap: true },
  });
  const sf = ts.createSourceFile(SNIPPET_FILE, source, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);
  const syntax = snippetDiagnostics(
    ts,
    (out.diagnostics ?? []).map((d) => ({ ...d, file: sf })),
    sf,
  );
  if (syntax.some((d) => d.category === 'error')) throw diagnosticsError(ts, syntax, source, 'syntax', '');
  const body = `${out.outputText.replace(/\/\/# sourceMappingURL=\S*\s*$/, '')}\n//# sourceURL=snippet.js`;
  const module: { exports: Record<string, unknown> } = { exports: {} };
  // V8 keeps 10 frames by default: enough to reach the snippet's own frame from deep in einattn
  const limits = Error as { stackTraceLimit?: number };
  const limit = limits.stackTraceLimit;
  if (typeof limit === 'number') limits.stackTraceLimit = Math.max(limit, 100);
  try {
    await new AsyncFunction('require', 'exports', 'module', body)(snippetRequire, module.exports, module);
  } catch (e) {
    throw await thrownBySnippet(e, out.sourceMapText);
  } finally {
    if (typeof limit === 'number') limits.stackTraceLimit = limit;
  }
  return exportedGraph(module.exports);
}
