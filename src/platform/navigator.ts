/**
 * Adapter choice in a browser: `navigator.gpu`. The browser picks the backend; einattn asks
 * for a high-performance adapter and reports whether it is a GPU or a software rasteriser
 * (SwiftShader). A page without WebGPU, or an adapter request the browser refuses, is a
 * NO_ADAPTER error that says which of the two happened and what to do.
 */
import { EinattnError } from '../errors.ts';
import { adapterLabel, isSoftwareAdapter, softwareName, type AdapterChoice, type ChosenAdapter } from './adapter.ts';

const ENABLE_HINT =
  'WebGPU needs a secure context (https, or http://localhost / 127.0.0.1) and a browser that has it on: ' +
  'Chrome or Edge 113+, Safari 26+, Firefox 141+ (Windows); headless Chromium needs --enable-unsafe-webgpu';

/** `navigator.gpu`, read without assuming the DOM library's types. */
function navigatorGpu(): GPU | undefined {
  const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
  return nav?.gpu;
}

async function request(gpu: GPU, options: GPURequestAdapterOptions): Promise<GPUAdapter | null> {
  try {
    return await gpu.requestAdapter(options);
  } catch {
    return null;
  }
}

/**
 * Finds an adapter on `navigator.gpu` for `choice`, or throws NO_ADAPTER saying why.
 * @example const { adapter, kind, reason } = await chooseBrowserAdapter('auto', 'adapter option')
 */
export async function chooseBrowserAdapter(choice: AdapterChoice, source = 'adapter'): Promise<ChosenAdapter> {
  const forced = choice === 'auto' ? '' : `${source}=${choice}: `;
  if (choice === 'opengles')
    throw new EinattnError('NO_ADAPTER', `${forced}a browser chooses its own WebGPU backend; OpenGL ES compatibility mode is a choice for Dawn under Node`);
  const gpu = navigatorGpu();
  const secure = (globalThis as { isSecureContext?: boolean }).isSecureContext;
  if (!gpu)
    throw new EinattnError(
      'NO_ADAPTER',
      `this page has no WebGPU: navigator.gpu is undefined${secure === false ? ' (the page is not a secure context)' : ''}. ${ENABLE_HINT}`,
    );
  const first = await request(gpu, { powerPreference: 'high-performance' });
  const soft = first && isSoftwareAdapter(first.info);
  if (first && !soft && choice !== 'software')
    return { gpu, adapter: first, kind: 'hardware', backend: 'browser', reason: `${forced}using the browser's WebGPU adapter (${adapterLabel(first.info)})` };
  if (choice === 'hardware')
    throw new EinattnError(
      'NO_ADAPTER',
      `${forced}the browser offers ${first ? `only a software adapter (${softwareName(first.info)})` : 'no WebGPU adapter'}`,
    );
  const fallback = soft ? first : await request(gpu, { forceFallbackAdapter: true });
  if (fallback) {
    const why = choice === 'auto' ? 'no hardware adapter offered; ' : forced;
    return {
      gpu,
      adapter: fallback,
      kind: 'software',
      backend: 'browser',
      reason: `${why}using the browser's software WebGPU adapter (${softwareName(fallback.info)})`,
    };
  }
  throw new EinattnError(
    'NO_ADAPTER',
    `navigator.gpu.requestAdapter() returned no adapter${choice === 'software' ? ' (also with forceFallbackAdapter)' : ''}: the browser has WebGPU but no usable GPU for it (blocklisted, disabled, or no driver; chrome://gpu says why). ${ENABLE_HINT}`,
  );
}
