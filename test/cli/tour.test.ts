// `einattn tour`, the first-run job: with an adapter it must pass; without one it must
// say what to install, still run the interpreter, and fail.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { variants } from '../../src/variants/index.ts';
import { cli, expectOk, tempDir } from './helpers.ts';

describe.concurrent('einattn tour', () => {
  it('--small checks and times every variant and writes the reports and WGSL', async () => {
    const out = tempDir();
    const r = await cli(['tour', '--small', '--out', out]);
    expectOk(r);
    for (const [i, v] of variants.entries()) expect(r.stdout).toContain(`[${i + 1}/${variants.length}] ${v.name}: lowering… `);
    expect(r.stdout).toMatch(/^variant\s+kernels\s+check/m);
    expect(r.stdout).toContain(out);
    const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8'));
    expect(report.pass).toBe(true);
    expect(report.adapter.kind).toMatch(/hardware|software|opengles/);
    expect(report.variants.map((v: { name: string }) => v.name)).toEqual(variants.map((v) => v.name));
    for (const v of report.variants) {
      expect(v.check.mode).toBe('gpu');
      expect(v.check.pass).toBe(true);
      expect(v.timing.medianMs).toBeGreaterThan(0);
      expect(v.kvBytesPerToken).toBeGreaterThan(0);
      expect(v.wgsl.length).toBe(v.kernels.length);
      for (const w of v.wgsl) expect(readFileSync(join(out, w), 'utf8')).toMatch(/@compute/);
    }
    const html = readFileSync(join(out, 'report.html'), 'utf8');
    expect(html).toMatch(/^<!doctype html>/);
    expect(html).not.toMatch(/<script|https?:\/\/(?!www\.w3\.org\/2000\/svg)/);
    expect(html.match(/<svg /g)).toHaveLength(2);
  });

  it('without an adapter it says what to install, runs the interpreter only, and fails', async () => {
    const out = tempDir();
    // Point the Vulkan loader at no driver and forbid the OpenGL ES fallback.
    const env = { VK_ICD_FILENAMES: '/nonexistent/icd.json', VK_DRIVER_FILES: '/nonexistent/icd.json', EINATTN_ADAPTER: 'software' };
    const r = await cli(['tour', '--small', '--only', 'mha,moba', '--out', out], { env });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('bash scripts/setup-system.sh');
    expect(r.stdout).toMatch(/INTERPRETER ONLY/);
    expect(r.stdout).toMatch(/checking \(interpreter only\)… ok/);
    expect(r.stderr).not.toMatch(/^\s+at (?!CheckVkSuccessImpl)/m);
    const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8'));
    expect(report.interpreterOnly).toBe(true);
    expect(report.pass).toBe(false);
    expect(report.adapter).toBeNull();
    expect(existsSync(join(out, 'report.html'))).toBe(true);
    expect(readdirSync(join(out, variants[0]!.name)).some((f) => f.endsWith('.wgsl'))).toBe(true);
    expect(report.variants.map((v: { name: string }) => v.name)).toEqual(['mha', 'moba']);
  });

  it('--only with an unknown variant is a one-line usage error naming the variants', async () => {
    const r = await cli(['tour', '--only', 'mha,nope']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("tour --only: no variant 'nope' (variants: mha, mqa");
  });
});
