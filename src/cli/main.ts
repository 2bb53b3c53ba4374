/**
 * The `einattn` command: dispatch to a command module, turn any error into one line on
 * stderr with an exit code, and always release the GPU so that Node exits by itself.
 */
import { closeRuntime } from '../runtime/index.ts';
import { usage } from './args.ts';
import { oneLine } from './format.ts';
import { benchCommand } from './bench.ts';
import { costCommand } from './cost.ts';
import { decodeCommand } from './decode.ts';
import { generateCommand } from './generate.ts';
import { helpFor } from './help.ts';
import { infoCommand } from './info.ts';
import { listCommand } from './list.ts';
import { runCommand } from './run.ts';
import { tourCommand } from './tour.ts';
import { tuneCommand } from './tune.ts';
import { packageVersion } from './version.ts';

const COMMANDS: Record<string, (argv: string[]) => Promise<number>> = {
  run: runCommand,
  decode: decodeCommand,
  list: listCommand,
  info: infoCommand,
  tour: tourCommand,
  generate: generateCommand,
  cost: costCommand,
  bench: benchCommand,
  tune: tuneCommand,
};

/**
 * The exit code of an error: 2 for usage mistakes, 1 for everything else.
 * @example exitCodeOf(new EinattnError('USAGE', 'x')) // 2
 */
export function exitCodeOf(e: unknown): number {
  // Duck-typed: errors from a user module's own copy of einattn are not our instances.
  return (e as { name?: string; code?: string } | null)?.name === 'EinattnError' && (e as { code?: string }).code === 'USAGE' ? 2 : 1;
}

/**
 * The one line printed for an error: its message (any error type), on one line.
 * @example errorLine(new Error('boom')) // 'boom'
 */
export function errorLine(e: unknown): string {
  if (e instanceof Error || (e !== null && typeof e === 'object' && typeof (e as Error).message === 'string')) {
    const msg = oneLine((e as Error).message);
    // A plain Error (not einattn's) may say little on its own; keep its class name.
    const name = (e as Error).name;
    return name && name !== 'Error' && name !== 'EinattnError' ? `${name}: ${msg}` : msg || name || 'unknown error';
  }
  return oneLine(String(e));
}

/**
 * Runs the CLI with `process.argv.slice(2)` and returns the exit code; never throws.
 * @example process.exitCode = await main(['list'])
 */
export async function main(argv: string[]): Promise<number> {
  // --debug is global, so each command's strict flag parser never sees it.
  const debug = argv.includes('--debug');
  const args = argv.filter((a) => a !== '--debug');
  try {
    const [command, ...rest] = args;
    if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
      console.log(helpFor(command === 'help' ? rest[0] : undefined));
      return 0;
    }
    if (command === '--version' || command === '-v') {
      console.log(packageVersion());
      return 0;
    }
    const run = COMMANDS[command];
    if (!run) usage(`unknown command '${command}' (commands: ${Object.keys(COMMANDS).join(', ')}; see einattn --help)`);
    if (rest.includes('--help') || rest.includes('-h')) {
      console.log(helpFor(command));
      return 0;
    }
    return await run(rest);
  } catch (e) {
    if (debug && e instanceof Error && e.stack) console.error(e.stack);
    console.error(`einattn: ${errorLine(e)}`);
    return exitCodeOf(e);
  } finally {
    try {
      await closeRuntime();
    } catch (e) {
      if (debug) console.error(e);
    }
  }
}
