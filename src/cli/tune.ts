/** `einattn tune`: search a variant's schedules at given sizes on this adapter and cache the winner. */
import { adapterId } from '../runtime/index.ts';
import { tune, tuneCachePath } from '../tune/index.ts';
import { checkDims, parseDims, parseFlags, parseOptFlags, positiveInt, usage, variantOptions, flagList as list, flagString as str } from './args.ts';
import { dimsText } from './format.ts';
import { adapterFlag, openRuntime } from './gpu.ts';
import { findVariant, variants } from '../variants/index.ts';

const FLAGS = {
  dims: { type: 'string', multiple: true },
  opt: { type: 'string', multiple: true },
  budget: { type: 'string' },
  runs: { type: 'string' },
  adapter: { type: 'string' },
  json: { type: 'boolean' },
} as const;

/**
 * Runs `einattn tune <variant>` and returns the exit code.
 * @example process.exitCode = await tuneCommand(['mha', '--dims', 'b=1,h=8,s=1024,t=1024,d=64,dv=64', '--budget', '60'])
 */
export async function tuneCommand(argv: string[]): Promise<number> {
  const { values: f, positionals } = parseFlags(argv, FLAGS, 'tune');
  if (positionals.length !== 1) usage(`tune takes one variant name (variants: ${variants.map((v) => v.name).join(', ')})`);
  const v = findVariant(positionals[0]!);
  if (!v) usage(`tune: no variant '${positionals[0]}' (variants: ${variants.map((x) => x.name).join(', ')})`);
  const dims = list(f.dims).length ? parseDims(list(f.dims)) : { ...v.dims.bench };
  const graph = v.build(variantOptions(v, parseOptFlags(list(f.opt))));
  checkDims(graph, dims);
  const budgetSeconds = f.budget === undefined ? 60 : positiveInt(str(f.budget)!, '--budget');
  const runs = f.runs === undefined ? 3 : positiveInt(str(f.runs)!, '--runs');
  const rt = await openRuntime(adapterFlag(str(f.adapter)));
  const log = (line: string) => (f.json ? console.error(line) : console.log(line));
  log(`tuning ${graph.name} at ${dimsText(dims)} on ${adapterId(rt)} (budget ${budgetSeconds} s, median of ${runs} runs per candidate)`);
  const entry = await tune(graph, dims, { runtime: rt, budgetSeconds, runs, progress: log });
  if (f.json) console.log(JSON.stringify(entry, null, 2));
  else console.log(`cached in ${tuneCachePath()} under this adapter, ${graph.name}, bucket ${entry.bucket}; used by einattn run, bench and generate --tuned`);
  return 0;
}
