/**
 * Adapter choice under Node, with Dawn (the `webgpu` package): a hardware adapter, else
 * software Vulkan (Mesa lavapipe), else OpenGL ES in compatibility mode. Only `node.ts`
 * imports this, so a browser bundle never sees Dawn.
 */
import type { create as CreateGpu } from 'webgpu';
import { EinattnError } from '../errors.ts';
import { adapterLabel, isSoftwareAdapter, softwareName, type AdapterChoice, type ChosenAdapter } from './adapter.ts';

const INSTALL_HINT =
  'On Debian/Ubuntu without a GPU run `bash scripts/setup-system.sh` (it installs Mesa lavapipe, ' +
  'mesa-vulkan-drivers and libvulkan1 from bookworm-backports, plus the EGL/GLES libraries for the ' +
  'OpenGL ES fallback); with a GPU, install its Vulkan driver.';

// Dawn timestamps are quantised to ~100 µs by default to blunt timing attacks, which
// would make per-kernel times of small kernels read as zero.
const BASE_FLAGS = ['disable-dawn-features=timestamp_quantization'];

function nativeBackend(): string {
  if (process.platform === 'darwin') return 'metal';
  if (process.platform === 'win32') return 'd3d12';
  return 'vulkan';
}

async function loadCreate(): Promise<typeof CreateGpu> {
  const { create, globals } = await import('webgpu');
  // Kernels and the runtime use GPUBufferUsage, GPUMapMode … as in a browser.
  if (typeof (globalThis as { GPUBufferUsage?: unknown }).GPUBufferUsage === 'undefined') Object.assign(globalThis, globals);
  return create;
}

async function request(gpu: GPU, options: GPURequestAdapterOptions): Promise<GPUAdapter | null> {
  try {
    return await gpu.requestAdapter(options);
  } catch {
    return null;
  }
}

/**
 * Finds an adapter for `choice`, or throws NO_ADAPTER naming what was tried and what to install.
 * @example const { gpu, adapter, kind, reason } = await chooseDawnAdapter('auto')
 */
export async function chooseDawnAdapter(choice: AdapterChoice, source = 'adapter'): Promise<ChosenAdapter> {
  const create = await loadCreate();
  const tried: string[] = [];
  const forced = choice === 'auto' ? '' : `${source}=${choice}: `;

  if (choice !== 'opengles') {
    let gpu: GPU | undefined;
    try {
      gpu = create(BASE_FLAGS);
    } catch (e) {
      tried.push(`${nativeBackend()} instance: create() failed (${(e as Error).message})`);
    }
    if (gpu) {
      // Dawn ranks discrete and integrated GPUs before CPU adapters, so this is the
      // hardware adapter whenever one exists, and the software one otherwise.
      const first = await request(gpu, { powerPreference: 'high-performance' });
      if (first && !isSoftwareAdapter(first.info)) {
        if (choice === 'auto' || choice === 'hardware') {
          return { gpu, adapter: first, kind: 'hardware', backend: nativeBackend(), reason: `${forced}using hardware adapter (${adapterLabel(first.info)})` };
        }
      }
      tried.push(
        first === null
          ? `hardware/${nativeBackend()}: no adapter found`
          : isSoftwareAdapter(first.info)
            ? `hardware: none found (the only ${nativeBackend()} adapter is software: ${adapterLabel(first.info)})`
            : `hardware: found ${adapterLabel(first.info)} but ${choice} was asked for`,
      );
      if (choice === 'auto' || choice === 'software') {
        const soft = first && isSoftwareAdapter(first.info) ? first : await request(gpu, { forceFallbackAdapter: true });
        if (soft && isSoftwareAdapter(soft.info)) {
          const why = choice === 'auto' ? 'no hardware adapter found; ' : forced;
          return {
            gpu,
            adapter: soft,
            kind: 'software',
            backend: nativeBackend(),
            reason: `${why}using software ${nativeBackend() === 'vulkan' ? 'Vulkan' : nativeBackend()} (${softwareName(soft.info)})`,
          };
        }
        tried.push(`software ${nativeBackend()} (lavapipe): no adapter found`);
      }
    }
  }

  if (choice === 'auto' || choice === 'opengles') {
    // Mesa's EGL needs a platform without a display server; callers may have set their own.
    process.env.EGL_PLATFORM ??= 'surfaceless';
    try {
      const gpu = create(['backend=opengles', ...BASE_FLAGS]);
      const adapter = await request(gpu, { featureLevel: 'compatibility' });
      if (adapter) {
        const why = choice === 'auto' ? 'no hardware or software Vulkan adapter found; ' : forced;
        return { gpu, adapter, kind: 'opengles', backend: 'opengles', reason: `${why}using OpenGL ES compatibility mode (${adapterLabel(adapter.info)})` };
      }
      tried.push('OpenGL ES (compatibility, EGL_PLATFORM=' + process.env.EGL_PLATFORM + '): no adapter found');
    } catch (e) {
      tried.push(`OpenGL ES: create() failed (${(e as Error).message})`);
    }
  }

  const what = choice === 'auto' ? 'no WebGPU adapter could be created' : `no ${choice} WebGPU adapter (${source}=${choice})`;
  throw new EinattnError('NO_ADAPTER', `${what}. Tried: ${tried.join('; ')}. ${INSTALL_HINT}`);
}
