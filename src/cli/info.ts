/** `einattn info`: the adapter einattn picks, and why. */
import { adapterReport, formatInfo } from '../runtime/index.ts';
import { parseFlags, usage } from './args.ts';
import { adapterFlag, openRuntime } from './gpu.ts';

/**
 * Runs `einattn info` and returns the exit code.
 * @example await infoCommand(['--json'])
 */
export async function infoCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags(argv, { json: { type: 'boolean' }, adapter: { type: 'string' } }, 'info');
  if (positionals.length) usage(`info takes no arguments, got ${positionals.join(' ')}`);
  const rt = await openRuntime(adapterFlag(typeof values.adapter === 'string' ? values.adapter : undefined));
  const report = adapterReport(rt);
  console.log(values.json ? JSON.stringify(report, null, 2) : formatInfo(report));
  return 0;
}
