// The host split: Node gets Dawn, process.env and files; a browser gets navigator.gpu and no
// files. The browser side runs here against a stand-in navigator.gpu, so its adapter choice
// and its NO_ADAPTER messages are tested without a browser (test/browser runs the real one).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { inflateSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { platform as browserPlatform, storedDeflate } from '../../src/platform/browser.ts';
import { nodeHost, platform } from '../../src/platform/index.ts';
import { chooseBrowserAdapter } from '../../src/platform/navigator.ts';

const ROOT = join(import.meta.dirname, '../..');

/** A stand-in for navigator.gpu whose requestAdapter answers from `adapters` by option. */
function fakeGpu(adapters: { default: object | null; fallback?: object | null }): GPU {
  return {
    requestAdapter: async (o?: GPURequestAdapterOptions) => ((o?.forceFallbackAdapter ? adapters.fallback : adapters.default) ?? null) as GPUAdapter | null,
  } as unknown as GPU;
}
const swiftshader = { info: { vendor: 'google', architecture: 'swiftshader', device: '', description: '', isFallbackAdapter: true } };
const gpuAdapter = { info: { vendor: 'nvidia', architecture: 'ada', device: '', description: 'NVIDIA GeForce RTX 4090', isFallbackAdapter: false } };

const saved = Object.getOwnPropertyDescriptor(globalThis, 'navigator');
function setNavigator(value: unknown): void {
  Object.defineProperty(globalThis, 'navigator', { value, configurable: true, writable: true });
}
afterEach(() => {
  if (saved) Object.defineProperty(globalThis, 'navigator', saved);
  else delete (globalThis as { navigator?: unknown }).navigator;
});

describe('the Node platform (what #platform is under Node and in the tests)', () => {
  it('is Node, with files and the environment', () => {
    expect(platform.name).toBe('node');
    expect(platform.node).toBeDefined();
    expect(nodeHost('x()')).toBe(platform.node);
    process.env.EINATTN_PLATFORM_PROBE = 'yes';
    expect(platform.env('EINATTN_PLATFORM_PROBE')).toBe('yes');
    delete process.env.EINATTN_PLATFORM_PROBE;
  });

  it('package.json maps #platform to the browser module under the browser condition, else to Node', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { imports: Record<string, Record<string, string>> };
    expect(pkg.imports['#platform']).toEqual({
      types: './dist/src/platform/node.d.ts',
      browser: './dist/src/platform/browser.js',
      default: './dist/src/platform/node.js',
    });
    const paths = (JSON.parse(readFileSync(join(ROOT, 'tsconfig.json'), 'utf8')) as { compilerOptions: { paths: Record<string, string[]> } }).compilerOptions
      .paths;
    expect(paths['#platform']).toEqual(['./src/platform/node.ts']);
  });
});

describe('the browser platform', () => {
  it('has no files and no environment', () => {
    expect(browserPlatform.name).toBe('browser');
    expect(browserPlatform.node).toBeUndefined();
    expect(browserPlatform.env('PATH')).toBeUndefined();
  });

  it('deflates to a zlib stream any inflater reads (stored blocks), also past one block', () => {
    for (const n of [0, 1, 1000, 65535, 65536, 200_003]) {
      const bytes = Uint8Array.from({ length: n }, (_, i) => (i * 31 + (i >> 7)) & 0xff);
      const z = storedDeflate(bytes);
      expect(Buffer.from(inflateSync(z)).equals(Buffer.from(bytes)), `n = ${n}`).toBe(true);
    }
  });

  it('uses the GPU the browser offers, and says so', async () => {
    setNavigator({ gpu: fakeGpu({ default: gpuAdapter }) });
    const c = await chooseBrowserAdapter('auto');
    expect([c.kind, c.backend]).toEqual(['hardware', 'browser']);
    expect(c.reason).toContain('NVIDIA GeForce RTX 4090');
  });

  it('takes a software adapter (SwiftShader) when that is all there is, naming it', async () => {
    setNavigator({ gpu: fakeGpu({ default: swiftshader }) });
    const c = await chooseBrowserAdapter('auto');
    expect(c.kind).toBe('software');
    expect(c.reason).toMatch(/no hardware adapter offered; .*SwiftShader/);
    setNavigator({ gpu: fakeGpu({ default: null, fallback: swiftshader }) });
    expect((await chooseBrowserAdapter('auto')).kind).toBe('software');
    setNavigator({ gpu: fakeGpu({ default: gpuAdapter, fallback: swiftshader }) });
    expect((await chooseBrowserAdapter('software', 'adapter option')).reason).toMatch(/^adapter option=software: /);
  });

  it('fails with NO_ADAPTER and the reason: no WebGPU, no adapter, only software for hardware, OpenGL ES', async () => {
    setNavigator(undefined);
    await expect(chooseBrowserAdapter('auto')).rejects.toMatchObject({
      code: 'NO_ADAPTER',
      message: expect.stringMatching(/navigator\.gpu is undefined.*--enable-unsafe-webgpu/),
    });
    setNavigator({ gpu: fakeGpu({ default: null, fallback: null }) });
    await expect(chooseBrowserAdapter('auto')).rejects.toMatchObject({
      code: 'NO_ADAPTER',
      message: expect.stringMatching(/requestAdapter\(\) returned no adapter.*chrome:\/\/gpu/),
    });
    setNavigator({ gpu: fakeGpu({ default: swiftshader }) });
    await expect(chooseBrowserAdapter('hardware', 'EINATTN_ADAPTER')).rejects.toMatchObject({
      code: 'NO_ADAPTER',
      message: expect.stringContaining('only a software adapter (SwiftShader)'),
    });
    await expect(chooseBrowserAdapter('opengles')).rejects.toMatchObject({
      code: 'NO_ADAPTER',
      message: expect.stringContaining('a browser chooses its own WebGPU backend'),
    });
  });
});
