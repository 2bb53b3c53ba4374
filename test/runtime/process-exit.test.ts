/** A process that gets a runtime, runs a plan and calls closeRuntime() exits by itself. */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'einattn-exit-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it('exits within seconds after closeRuntime()', async () => {
  const script = join(dir, 'child.mts');
  const runtime = pathToFileURL(join(root, 'src/runtime/index.ts')).href;
  const plans = pathToFileURL(join(root, 'test/runtime/plans.ts')).href;
  writeFileSync(
    script,
    `import { getRuntime, runPlan, closeRuntime } from '${runtime}';
import { fmaPlan } from '${plans}';
const rt = await getRuntime();
const { outputs } = await runPlan(fmaPlan(), { a: new Float32Array([1, 2]), b: new Float32Array([3, 4]) }, { n: 2 });
await closeRuntime();
console.log('result', rt.kind, JSON.stringify(Array.from(outputs.out.data)));
`,
  );
  const started = Date.now();
  const child = spawn(process.execPath, ['--import', 'tsx', script], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  clearTimeout(killer);
  const seconds = (Date.now() - started) / 1000;
  expect({ code, stderr: code === 0 ? '' : stderr }).toEqual({ code: 0, stderr: '' });
  expect(stdout).toMatch(/^result (hardware|software|opengles) \[5,10\]$/m);
  // tsx start-up plus a device take about a second; a hang would hit the 30 s kill.
  expect(seconds).toBeLessThan(15);
});
