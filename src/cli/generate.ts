/** `einattn generate`: typed kernel modules at build time (see codegen/). */
import { builtinEntries, checkAll, collectModule, renderAll, writeAll, type GraphEntry } from '../../codegen/index.ts';
import type { Graph } from '../ir/index.ts';
import type { LowerOptions } from '../lower/index.ts';
import { adapterId, getRuntime } from '../runtime/index.ts';
import { configOptions, tunedEntries } from '../tune/index.ts';
import { parseFlags, usage } from './args.ts';

/**
 * For --tuned: each graph's most recently tuned schedule on this adapter (einattn tune),
 * baked into its module with a header line naming it; graphs never tuned keep the default.
 */
async function tunedSchedules(): Promise<(g: Graph) => { options: LowerOptions; note: string } | undefined> {
  const id = adapterId(await getRuntime());
  return (g) => {
    const [e, ...older] = tunedEntries(id, g);
    if (!e) {
      console.error(`generate --tuned: no tuned schedule for '${g.name}' on ${id}; the default schedule is used (einattn tune ${g.name} --dims …)`);
      return undefined;
    }
    const dims = Object.entries(e.dims)
      .map(([k, v]) => `${k}=${v}`)
      .join(',');
    return {
      options: configOptions(e.config),
      note: `schedule: tuned ${e.tunedAt.slice(0, 10)} on ${id} at ${dims}${older.length ? ` (newest of ${older.length + 1} tuned buckets)` : ''}: ${JSON.stringify(e.config)}`,
    };
  };
}

/**
 * Runs `einattn generate <modules…> --out DIR [--builtin] [--check] [--tuned]` and returns the exit code.
 * @example await generateCommand(['examples/app/kernels.ts', '--out', 'examples/app/generated'])
 */
export async function generateCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags(
    argv,
    {
      out: { type: 'string' },
      builtin: { type: 'boolean' },
      check: { type: 'boolean' },
      'import-ext': { type: 'string' },
      runtime: { type: 'string' },
      tuned: { type: 'boolean' },
    },
    'generate',
  );
  const out = values.out;
  if (typeof out !== 'string') usage('generate needs --out DIR (where the kernel modules go)');
  if (!positionals.length && !values.builtin) usage('generate needs module files (e.g. src/attention.ts) or --builtin');
  const ext = values['import-ext'] ?? 'ts';
  if (ext !== 'ts' && ext !== 'js') usage(`--import-ext must be ts or js, got '${String(ext)}'`);
  const entries: GraphEntry[] = values.builtin ? builtinEntries() : [];
  for (const file of positionals) entries.push(...(await collectModule(file)));
  const scheduleFor = values.tuned ? await tunedSchedules() : undefined;
  const result = renderAll(entries, {
    importExt: ext,
    ...(typeof values.runtime === 'string' ? { runtimeImport: values.runtime } : {}),
    ...(scheduleFor ? { scheduleFor } : {}),
  });
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
