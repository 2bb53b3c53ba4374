/** `einattn generate`: typed kernel modules at build time (see codegen/). */
import { builtinEntries, checkAll, collectModule, renderAll, writeAll, type GraphEntry } from '../../codegen/index.ts';
import { parseFlags, usage } from './args.ts';

/**
 * Runs `einattn generate <modules…> --out DIR [--builtin] [--check]` and returns the exit code.
 * @example await generateCommand(['examples/app/kernels.ts', '--out', 'examples/app/generated'])
 */
export async function generateCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags(
    argv,
    { out: { type: 'string' }, builtin: { type: 'boolean' }, check: { type: 'boolean' }, 'import-ext': { type: 'string' }, runtime: { type: 'string' } },
    'generate',
  );
  const out = values.out;
  if (typeof out !== 'string') usage('generate needs --out DIR (where the kernel modules go)');
  if (!positionals.length && !values.builtin) usage('generate needs module files (e.g. src/attention.ts) or --builtin');
  const ext = values['import-ext'] ?? 'ts';
  if (ext !== 'ts' && ext !== 'js') usage(`--import-ext must be ts or js, got '${String(ext)}'`);
  const entries: GraphEntry[] = values.builtin ? builtinEntries() : [];
  for (const file of positionals) entries.push(...(await collectModule(file)));
  const result = renderAll(entries, { importExt: ext, ...(typeof values.runtime === 'string' ? { runtimeImport: values.runtime } : {}) });
  const summary = `${result.graphs} graph${result.graphs === 1 ? '' : 's'}, ${result.kernels} kernels, ${result.files.size} files in ${result.ms.toFixed(0)} ms`;
  if (values.check) {
    const { stale, missing, extra } = checkAll(result, out);
    const bad = [...stale.map((f) => `stale ${f}`), ...missing.map((f) => `missing ${f}`), ...extra.map((f) => `extra ${f}`)];
    if (bad.length) {
      console.error(`einattn generate --check: ${out} is out of date (${bad.join(', ')}); run einattn generate without --check`);
      return 1;
    }
    console.log(`${out} is up to date (${summary})`);
    return 0;
  }
  writeAll(result, out);
  console.log(`wrote ${summary} to ${out}`);
  return 0;
}
