// The research notebooks in examples/notebooks run from top to bottom: each is executed
// headlessly with `jupyter nbconvert --to notebook --execute` on the project's TypeScript kernel
// (tslab, set up by scripts/notebook-kernel.sh) and this machine's WebGPU adapter. A failing
// cell fails the test with that cell's source and error. The committed notebooks must carry no
// outputs or execution counts. Without Jupyter this fails saying to run
// `bash scripts/setup-system.sh`; it never skips.
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');
const NB_DIR = join(ROOT, 'examples/notebooks');
const KERNEL = 'einattn-ts';
/** per-cell limit; a whole notebook takes ~15–20 s on a 2-core machine with lavapipe */
const CELL_TIMEOUT_S = 120;
const SETUP_HINT = 'run `bash scripts/setup-system.sh` (it installs jupyter-nbconvert, jupyter-client, python3-nbclient and jupyter-core)';

interface Cell {
  cell_type: 'code' | 'markdown' | 'raw';
  id?: string;
  source: string | string[];
  metadata: Record<string, unknown>;
  outputs?: { output_type: string; name?: string; text?: string | string[]; data?: Record<string, unknown> }[];
  execution_count?: number | null;
}
interface Notebook {
  cells: Cell[];
  metadata: { kernelspec?: { name: string; language?: string } };
  nbformat: number;
  nbformat_minor: number;
}

const joined = (s: string | string[] | undefined) => (Array.isArray(s) ? s.join('') : (s ?? ''));
const readNotebook = (path: string) => JSON.parse(readFileSync(path, 'utf8')) as Notebook;
const notebooks = existsSync(NB_DIR)
  ? readdirSync(NB_DIR)
      .filter((f) => f.endsWith('.ipynb'))
      .sort()
  : [];

describe('committed notebooks', () => {
  it('there are at least three', () => {
    expect(notebooks.length).toBeGreaterThanOrEqual(3);
  });

  it.each(notebooks)('%s is stored without outputs, on the einattn kernel', (file) => {
    const nb = readNotebook(join(NB_DIR, file));
    expect(nb.nbformat).toBe(4);
    expect(nb.metadata.kernelspec?.name, 'kernelspec.name').toBe(KERNEL);
    const ids = new Set<string>();
    nb.cells.forEach((c, i) => {
      expect(c.id, `cell ${i} has an id`).toMatch(/^[A-Za-z0-9_-]{1,64}$/);
      expect(ids.has(c.id!), `cell ${i}'s id is unique`).toBe(false);
      ids.add(c.id!);
      if (c.cell_type !== 'code') return;
      const hint = 'clear the notebook with `npm run notebooks -- clear` before committing';
      expect(c.outputs, `cell ${i} (${joined(c.source).split('\n')[0]}) has outputs: ${hint}`).toEqual([]);
      expect(c.execution_count, `cell ${i} has an execution count: ${hint}`).toBeNull();
      expect(c.metadata.execution, `cell ${i} has execution timings: ${hint}`).toBeUndefined();
    });
    expect(nb.cells.filter((c) => c.cell_type === 'code').length).toBeGreaterThan(2);
  });
});

/** Runs a command; resolves with its exit code and output instead of throwing. */
function run(cmd: string, args: string[], env: NodeJS.ProcessEnv, cwd = ROOT): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(cmd, args, { cwd, env, maxBuffer: 64 * 2 ** 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      done({ code, stdout: String(stdout), stderr: String(stderr) + (err && typeof (err as { code?: unknown }).code !== 'number' ? `\n${err.message}` : '') });
    });
  });
}

/** The text of a cell's stream outputs (tslab reports a cell's compile or run-time error on stderr). */
const cellText = (c: Cell) => (c.outputs ?? []).map((o) => joined(o.text) || (o.data ? Object.keys(o.data).join(', ') : '')).join('');

describe('notebooks execute headlessly', () => {
  let tmp = '';
  let env: NodeJS.ProcessEnv = {};

  beforeAll(() => {
    tmp = mkdtempSync(join(tmpdir(), 'einattn-notebooks-'));
    try {
      execFileSync('jupyter', ['nbconvert', '--version'], { stdio: 'pipe' });
    } catch (e) {
      throw new Error(`jupyter nbconvert is not available (${(e as Error).message.split('\n')[0]}): ${SETUP_HINT}`);
    }
    if (!existsSync(join(ROOT, 'node_modules/tslab/package.json')))
      throw new Error('the tslab kernel is not installed: run `npm install` (tslab is a devDependency)');
    // the project-local kernel spec and the declarations tslab type-checks cells against
    try {
      execFileSync('bash', [join(ROOT, 'scripts/notebook-kernel.sh'), 'install'], { cwd: ROOT, stdio: 'pipe' });
    } catch (e) {
      const err = e as { stderr?: Buffer; message: string };
      throw new Error(`scripts/notebook-kernel.sh install failed: ${String(err.stderr ?? '') || err.message}`);
    }
    mkdirSync(join(tmp, 'runtime'), { recursive: true });
    env = {
      ...process.env,
      JUPYTER_PATH: [join(ROOT, '.einattn/jupyter'), process.env.JUPYTER_PATH].filter(Boolean).join(':'),
      JUPYTER_RUNTIME_DIR: join(tmp, 'runtime'),
    };
  }, 120_000);

  afterAll(() => {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it.each(notebooks)(
    '%s runs top to bottom',
    async (file) => {
      const out = join(tmp, 'out');
      const args = [
        'nbconvert',
        '--to',
        'notebook',
        '--execute',
        `--ExecutePreprocessor.timeout=${CELL_TIMEOUT_S}`,
        `--ExecutePreprocessor.kernel_name=${KERNEL}`,
        '--output-dir',
        out,
        join(NB_DIR, file),
      ];
      const r = await run('jupyter', args, env);
      if (r.code !== 0) {
        // nbconvert names the failing cell but not tslab's error, which is in the cell's output:
        // execute again, continuing past errors, to read it.
        const failed = /An error occurred while executing the following cell:\n-+\n([\s\S]*?)\n-+\n/.exec(r.stderr)?.[1];
        let detail = r.stderr.split('\n').slice(-25).join('\n');
        if (failed !== undefined) {
          const again = join(tmp, 'failed');
          await run('jupyter', [...args.slice(0, -3), '--allow-errors', '--output-dir', again, join(NB_DIR, file)], env);
          const nb = existsSync(join(again, file)) ? readNotebook(join(again, file)) : undefined;
          const index = nb?.cells.findIndex((c) => c.cell_type === 'code' && joined(c.source).trim() === failed.trim()) ?? -1;
          const output = index >= 0 ? cellText(nb!.cells[index]!) : '(could not re-run the notebook to read the error)';
          detail = `cell ${index >= 0 ? index : '?'}:\n${failed}\n--- its output ---\n${output}`;
        }
        throw new Error(`${file} failed:\n${detail}`);
      }
      const nb = readNotebook(join(out, file));
      const code = nb.cells.filter((c) => c.cell_type === 'code');
      // rich output went through tslab's display API (not the text fallback)
      expect(
        code.some((c) => (c.outputs ?? []).some((o) => o.output_type === 'display_data')),
        'some cell displays HTML or SVG',
      ).toBe(true);
    },
    300_000,
  );
});
