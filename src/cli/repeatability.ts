/**
 * `einattn bench --repeatability`: one row run three times, each in a fresh process, to
 * show how much a median moves between runs on this machine (warm-up, compilation and
 * drift of a shared machine included), and how much the paired speed-up moves with it.
 */
import { spawn } from 'node:child_process';
import { fail } from '../errors.ts';

/** One fresh process's result for one system. */
interface ProcessRow {
  system: string;
  median_ms: number | null;
  p25_ms: number | null;
  p75_ms: number | null;
  speedup_ort_webgpu: number | null;
}

function runOnce(bin: string, args: string[]): Promise<ProcessRow[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, 'bench', ...args, '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`einattn bench ${args.join(' ')} exited with ${code}: ${err.trim().split('\n').at(-1)}`));
      resolve(JSON.parse(out) as ProcessRow[]);
    });
  });
}

const spreadOf = (xs: number[]) => (Math.max(...xs) - Math.min(...xs)) / Math.min(...xs);
const f = (x: number | null | undefined) => (x === null || x === undefined ? '–' : x.toPrecision(3));

/**
 * Runs `bench --only ROW` in `runs` fresh processes and returns a markdown report of the spread.
 * @example console.log(await repeatability('gqa-decode-4096', ['--systems', 'einattn,ort-webgpu']))
 */
export async function repeatability(row: string, extra: string[], runs = 3, log: (line: string) => void = () => {}): Promise<string> {
  const bin = process.argv[1];
  if (!bin || !/einattn\.mjs$/.test(bin)) fail('USAGE', 'bench --repeatability runs the einattn command again; start it as einattn (or npm run bench)');
  const results: ProcessRow[][] = [];
  for (let i = 0; i < runs; i++) {
    log(`repeatability: process ${i + 1} of ${runs}: einattn bench --only ${row} ${extra.join(' ')}`);
    results.push(await runOnce(bin, ['--only', row, ...extra]));
  }
  const systems = [...new Set(results.flat().map((r) => r.system))];
  const lines = [
    `### Repeatability: ${row}, ${runs} fresh processes`,
    '',
    '| system | median ms per process (IQR) | spread of the medians | paired ×ort-webgpu per process |',
    '|---|---|---:|---|',
  ];
  for (const s of systems) {
    const per = results.map((rows) => rows.find((r) => r.system === s));
    const medians = per.map((r) => r?.median_ms).filter((x): x is number => typeof x === 'number');
    lines.push(
      `| ${s} | ${per.map((r) => `${f(r?.median_ms)} (${f(r?.p25_ms)}–${f(r?.p75_ms)})`).join('; ')} | ${medians.length > 1 ? `${(100 * spreadOf(medians)).toFixed(0)}%` : '–'} | ${per.map((r) => f(r?.speedup_ort_webgpu)).join('; ')} |`,
    );
  }
  return lines.join('\n') + '\n';
}
