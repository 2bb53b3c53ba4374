/**
 * Type-checks a TypeScript snippet with the project's TypeScript and tsconfig, and shows the
 * compiler's diagnostics as text: the way to show, in a notebook that must run to the end,
 * the compile error a wrong axis gives (a cell with the error would fail to run).
 */
import { fail } from '../errors.ts';
import { nodeHost } from '../platform/index.ts';
import { escapeXml, View } from './view.ts';

/** One compiler diagnostic of the snippet, with a 1-based position. */
export interface SnippetDiagnostic {
  line: number;
  column: number;
  /** the TS error number, e.g. 2345 */
  code: number;
  category: 'error' | 'warning' | 'suggestion' | 'message';
  message: string;
}

/** The result of {@link typecheck}: a {@link View} of the diagnostics, and the diagnostics. */
export class TypecheckResult extends View {
  constructor(
    readonly diagnostics: readonly SnippetDiagnostic[],
    readonly fileName: string,
    readonly typescriptVersion: string,
    readonly source: string,
  ) {
    const lines = source.split('\n');
    const blocks = diagnostics.map((d) => {
      const src = lines[d.line - 1] ?? '';
      const gutter = String(d.line).length;
      return [
        `${fileName}:${d.line}:${d.column} - ${d.category} TS${d.code}: ${d.message}`,
        `${' '.repeat(gutter)} |`,
        `${d.line} | ${src}`,
        `${' '.repeat(gutter)} | ${' '.repeat(Math.max(0, d.column - 1))}^`,
      ].join('\n');
    });
    const summary =
      diagnostics.length === 0
        ? `${fileName}: no errors (TypeScript ${typescriptVersion})`
        : `${diagnostics.length} diagnostic${diagnostics.length === 1 ? '' : 's'} (TypeScript ${typescriptVersion})`;
    const text = [...blocks, summary].join('\n\n');
    const color = diagnostics.some((d) => d.category === 'error') ? '#b3261e' : '#137333';
    super({
      kind: 'html',
      html: `<pre style="font:12px/1.45 ui-monospace,SFMono-Regular,Menlo,monospace;background:#fbf3f2;border-left:3px solid ${color};padding:.6rem .8rem;white-space:pre-wrap">${escapeXml(text)}</pre>`,
      text,
      title: `type check of ${fileName}`,
    });
  }

  /** true when there is no error */
  get ok(): boolean {
    return !this.diagnostics.some((d) => d.category === 'error');
  }
}

/** Options of {@link typecheck}. */
export interface TypecheckOptions {
  /** where the snippet "lives": imports resolve from here, and the nearest tsconfig.json applies (default: the working directory) */
  dir?: string;
  /** the name shown in messages (default 'snippet.ts') */
  fileName?: string;
}

type TS = typeof import('typescript');

/**
 * Type-checks `source` as if it were a file in `dir`, with the nearest tsconfig.json
 * (strict defaults without one), and returns its diagnostics. Needs the `typescript`
 * package (a devDependency of einattn); takes a few seconds, the time `tsc` needs to load
 * the files the snippet imports.
 * @example (await typecheck(`import { input, einsum } from 'einattn';\nconst q = input('q', 'b h s d');\neinsum('b h s d, b h t d -> b h s t', q, q);`)).show()
 */
export async function typecheck(source: string, opts: TypecheckOptions = {}): Promise<TypecheckResult> {
  // the compiler reads the snippet's imports from disk: Node only
  const node = nodeHost('typecheck()');
  const { dirname, join, resolve } = node.path;
  let ts: TS;
  try {
    ts = await node.importTypeScript();
  } catch (e) {
    fail('USAGE', `typecheck() needs the 'typescript' package (npm install --save-dev typescript): ${(e as Error).message}`);
  }
  const dir = resolve(opts.dir ?? node.cwd());
  const shownName = opts.fileName ?? 'snippet.ts';
  // a name no real file has, so that the snippet never shadows one
  const file = join(dir, `__einattn_typecheck_${node.pid}__.ts`).replace(/\\/g, '/');
  let options: import('typescript').CompilerOptions = {
    strict: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    allowImportingTsExtensions: true,
    skipLibCheck: true,
  };
  const configPath = ts.findConfigFile(dir, ts.sys.fileExists);
  if (configPath) {
    const read = ts.readConfigFile(configPath, ts.sys.readFile);
    if (read.error) fail('USAGE', `typecheck(): cannot read ${configPath}: ${ts.flattenDiagnosticMessageText(read.error.messageText, ' ')}`);
    options = ts.parseJsonConfigFileContent(read.config, ts.sys, dirname(configPath)).options;
  }
  options = { ...options, noEmit: true, incremental: false, composite: false, declaration: false };
  const host = ts.createCompilerHost(options, true);
  const same = (f: string) => resolve(f).replace(/\\/g, '/') === file;
  const { getSourceFile, fileExists, readFile } = host;
  host.getSourceFile = (f, lang, onError, create) =>
    same(f) ? ts.createSourceFile(f, source, lang, true, ts.ScriptKind.TS) : getSourceFile.call(host, f, lang, onError, create);
  host.fileExists = (f) => same(f) || fileExists.call(host, f);
  host.readFile = (f) => (same(f) ? source : readFile.call(host, f));
  const program = ts.createProgram({ rootNames: [file], options, host });
  const sf = program.getSourceFile(file)!;
  const all = [...program.getSyntacticDiagnostics(sf), ...program.getSemanticDiagnostics(sf)];
  return new TypecheckResult(snippetDiagnostics(ts, all, sf), shownName, ts.version, source);
}

/** What {@link snippetDiagnostics} reads of the TypeScript module (Node's, or the copy a web page loads). */
export interface DiagnosticFormatter {
  DiagnosticCategory: { Error: number; Warning: number; Suggestion: number };
  flattenDiagnosticMessageText(text: never, newLine: string): string;
}

/** A compiler diagnostic, as far as {@link snippetDiagnostics} reads it. */
export interface CompilerDiagnostic {
  start?: number;
  file?: unknown;
  code: number;
  category: number;
  messageText: unknown;
}

/**
 * The compiler's diagnostics of one snippet as {@link SnippetDiagnostic}s, with 1-based positions in
 * `sf` (a diagnostic of another file is placed at 1:1). Node's `typecheck()` and the web
 * playground's editor share it.
 * @example snippetDiagnostics(ts, program.getSemanticDiagnostics(sf), sf)
 */
export function snippetDiagnostics(
  ts: DiagnosticFormatter,
  all: readonly CompilerDiagnostic[],
  sf: { getLineAndCharacterOfPosition(pos: number): { line: number; character: number } },
): SnippetDiagnostic[] {
  const kinds = ts.DiagnosticCategory;
  const category = (c: number): SnippetDiagnostic['category'] =>
    c === kinds.Error ? 'error' : c === kinds.Warning ? 'warning' : c === kinds.Suggestion ? 'suggestion' : 'message';
  return all.map((d) => {
    const pos = d.start !== undefined && (d.file === undefined || d.file === sf) ? sf.getLineAndCharacterOfPosition(d.start) : { line: 0, character: 0 };
    return {
      line: pos.line + 1,
      column: pos.character + 1,
      code: d.code,
      category: category(d.category),
      message: ts.flattenDiagnosticMessageText(d.messageText as never, '\n  '),
    };
  });
}
