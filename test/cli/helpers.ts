/** Spawning the real CLI (`node bin/einattn.mjs`) and asserting on what it prints. */
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';

export const REPO = fileURLToPath(new URL('../../', import.meta.url));
export const BIN = join(REPO, 'bin', 'einattn.mjs');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** stderr without Dawn's native warnings, which einattn cannot silence */
  errLines: string[];
}

/**
 * Runs `node bin/einattn.mjs ...args` to completion; it must exit by itself.
 * @example const r = await cli(['list'])
 */
export function cli(args: string[], opts: { cwd?: string; env?: Record<string, string> } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: opts.cwd ?? REPO,
      env: { ...process.env, ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    // A CLI that does not release the GPU never exits; fail instead of hanging the suite.
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`einattn ${args.join(' ')} did not exit within 60 s\nstdout:\n${stdout}\nstderr:\n${stderr}`));
    }, 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      const errLines = stderr.split('\n').filter((l) => l.trim() !== '' && !/^Warning: /.test(l) && !/^\s+at CheckVkSuccessImpl/.test(l));
      resolve({ code, stdout, stderr, errLines });
    });
  });
}

/**
 * Asserts success, showing the CLI's output when it failed (e.g. no adapter: a GPU test fails, never skips).
 * @example expectOk(await cli(['info']))
 */
export function expectOk(r: CliResult): void {
  if (r.code !== 0) throw new Error(`einattn exited with ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
}

/**
 * Asserts a failure with exactly one `einattn: ...` line on stderr and no stack trace.
 * @example expectOneLineError(await cli(['run', 'nope']), 2, /unknown variant/)
 */
export function expectOneLineError(r: CliResult, code: number, message: RegExp): void {
  expect(r.code, `exit code; stderr:\n${r.stderr}`).toBe(code);
  expect(r.errLines, r.stderr).toHaveLength(1);
  expect(r.errLines[0]).toMatch(/^einattn: /);
  expect(r.errLines[0]).toMatch(message);
  expect(r.stderr).not.toMatch(/^\s+at /m);
}

/**
 * A fresh temporary folder.
 * @example const dir = tempDir()
 */
export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'einattn-cli-'));
}
