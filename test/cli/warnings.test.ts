/**
 * No warning on a normal run: Dawn's two native limit notices (printed at adapter discovery,
 * see bin/dawn-warnings.mjs) are filtered out of the CLI's stderr, and npm finds nothing to warn
 * about in the project's own configuration (.npmrc, package.json allowScripts).
 */
import { execFile } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { dawnWarningFilter, DAWN_LIMIT_WARNING } from '../../bin/dawn-warnings.mjs';
import { cli, expectOk, REPO } from './helpers.ts';

const NOTICE_U = 'Warning: maxDynamicUniformBuffersPerPipelineLayout artificially reduced from 1000000 to 16 to fit dynamic offset allocation limit.';
const NOTICE_S = 'Warning: maxDynamicStorageBuffersPerPipelineLayout artificially reduced from 500000 to 16 to fit dynamic offset allocation limit.';

/** The environment without what an enclosing `npm test` exports, so npm reads the project's config as a user's shell would. */
const ENV = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k))) as NodeJS.ProcessEnv;

function npm(args: string[], cmd = 'npm'): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(cmd, args, { cwd: REPO, env: ENV, timeout: 60_000 }, (err, stdout, stderr) => {
      done({
        code: err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0,
        stdout: String(stdout),
        stderr: String(stderr),
      });
    });
  });
}

describe('a CLI run on the GPU', () => {
  it('prints no Dawn limit notice', async () => {
    const r = await cli(['run', 'mha', '--dims', 'b=1,h=1,s=4,t=4,d=8,dv=8', '--check']);
    expectOk(r);
    expect(r.stdout).toMatch(/o: max abs err .*: ok/);
    expect(r.stderr).not.toMatch(/artificially reduced/);
    expect(r.stderr).not.toMatch(/^Warning: /m);
  });
});

describe('the notice filter', () => {
  it('drops exactly the two notices, whole lines only', () => {
    const f = dawnWarningFilter();
    const out = f.feed(`${NOTICE_U}\nkept line\n${NOTICE_S}\nWarning: something else\n`) + f.end();
    expect(out).toBe('kept line\nWarning: something else\n');
    expect(DAWN_LIMIT_WARNING.test(`x ${NOTICE_U}`)).toBe(false);
  });

  it('holds back only a partial line that may still become a notice', () => {
    const f = dawnWarningFilter();
    expect(f.feed('progress 10%')).toBe('progress 10%');
    expect(f.feed('\nWarning: maxDyn')).toBe('\n');
    expect(f.feed(NOTICE_U.slice('Warning: maxDyn'.length) + '\nafter')).toBe('after');
    expect(f.feed('\nWarning: maxDynamicStorage')).toBe('\n');
    expect(f.end()).toBe('Warning: maxDynamicStorage');
  });
});

describe('npm', () => {
  it("prints no warning about the project's config", async () => {
    const r = await npm(['einattn', '--version'], 'npx');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
    expect(r.stderr).not.toMatch(/npm warn/i);
  });

  it('has every dependency install script reviewed in allowScripts (npm 11)', async () => {
    const r = await npm(['install-scripts', 'ls']);
    // npm before allowScripts has no such command, and runs every install script without a word
    if (r.code !== 0 && /Unknown command/i.test(r.stderr + r.stdout)) return;
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout + r.stderr).toMatch(/No packages with unreviewed install scripts/);
    expect(r.stderr).not.toMatch(/npm warn/i);
  });
});
