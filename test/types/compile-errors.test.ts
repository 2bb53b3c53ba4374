/**
 * Runs the TypeScript compiler on small snippets and checks that a wrong einsum
 * operand is a compile error whose message names the operand position and the axis.
 */
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { beforeAll, describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** Type-checks `code` as if it were a file in test/types/, returns its diagnostics as text. */
function diagnostics(snippets: Record<string, string>): Record<string, string[]> {
  const configPath = join(root, 'tsconfig.json');
  const config = ts.readConfigFile(configPath, ts.sys.readFile);
  const { options } = ts.parseJsonConfigFileContent(config.config, ts.sys, root);
  const files = Object.fromEntries(Object.entries(snippets).map(([k, code]) => [join(root, 'test', 'types', `__snippet_${k}.ts`), code]));
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (name, lang, onError, create) =>
    name in files ? ts.createSourceFile(name, files[name]!, lang) : getSourceFile(name, lang, onError, create);
  const fileExists = host.fileExists.bind(host);
  host.fileExists = (name) => name in files || fileExists(name);
  const program = ts.createProgram(Object.keys(files), options, host);
  const out: Record<string, string[]> = {};
  for (const [k] of Object.entries(snippets)) {
    const sf = program.getSourceFile(join(root, 'test', 'types', `__snippet_${k}.ts`))!;
    out[k] = [...program.getSyntacticDiagnostics(sf), ...program.getSemanticDiagnostics(sf)].map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
  }
  return out;
}

const header = `import { einsum, input } from '../../src/index.ts';
const q = input('q', 'b h s d');
`;

describe('compile-time errors (TypeScript compiler API)', () => {
  let d: Record<string, string[]> = {};
  beforeAll(() => {
    d = diagnostics({
      ok: `${header}export const s = einsum('b h s d, b h t d -> b h s t', q, input('k', 'b h t d'));\n`,
      wrongK: `${header}export const s = einsum('b h s d, b h t d -> b h s t', q, input('k', 'b h x d'));\n`,
      wrongQ: `${header}export const s = einsum('b h s d, b h t d -> b h s t', input('k', 'b h t d'), input('k2', 'b h t d'));\n`,
      count: `${header}export const s = einsum('b h s d, b h t d -> b h s t', q);\n`,
      sum: `${header}export const s = q.sum('z');\n`,
    });
  }, 60_000);

  it('a correct call compiles', () => {
    expect(d.ok).toEqual([]);
  });

  it("a wrong k names 'operand 2' and the offending axis", () => {
    expect(d.wrongK).toHaveLength(1);
    const msg = d.wrongK![0]!;
    expect(msg).toContain('operand 2');
    expect(msg).toContain('"x"'); // the axis the tensor has
    expect(msg).toContain('"t"'); // the axis the spec wants
    expect(msg).not.toContain('operand 1');
  });

  it("a wrong q names 'operand 1'", () => {
    expect(d.wrongQ).toHaveLength(1);
    expect(d.wrongQ![0]).toContain('operand 1');
    expect(d.wrongQ![0]).toContain('"s"');
  });

  it('a missing operand is an argument-count error', () => {
    expect(d.count).toHaveLength(1);
    expect(d.count![0]).toMatch(/Expected 3 arguments, but got 2/);
  });

  it('a reduction over a missing axis names the axis', () => {
    expect(d.sum).toHaveLength(1);
    expect(d.sum![0]).toContain("axis 'z' is not an axis of the tensor");
  });
});
