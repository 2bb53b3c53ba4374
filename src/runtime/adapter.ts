/// <reference types="@webgpu/types" preserve="true" />
/**
 * Adapter choice: a hardware adapter, else software Vulkan (Mesa lavapipe), else
 * OpenGL ES in compatibility mode. The choice and the reason for it are kept so that
 * `einattn info`, benchmarks and error messages can say what ran where.
 */
import type { create as CreateGpu } from 'webgpu';
import { EinattnError } from '../errors.ts';

/** What kind of adapter a runtime runs on. */
export type AdapterKind = 'hardware' | 'software' | 'opengles';

/** An adapter request: `auto` walks hardware → software → opengles. */
export type AdapterChoice = 'auto' | AdapterKind;

/** The adapter that was chosen, with the `GPU` object that must outlive its device. */
export interface ChosenAdapter {
  /** the object returned by `create()`; dropping it while its device lives crashes Dawn */
  gpu: GPU;
  adapter: GPUAdapter;
  kind: AdapterKind;
  /** e.g. "no hardware adapter found; using software Vulkan (lavapipe)" */
  reason: string;
  /** the Dawn backend: 'vulkan', 'metal', 'd3d12' or 'opengles' */
  backend: string;
}

const CHOICES: readonly AdapterChoice[] = ['auto', 'hardware', 'software', 'opengles'];

const INSTALL_HINT =
  'On Debian/Ubuntu without a GPU run `bash scripts/setup-system.sh` (it installs Mesa lavapipe, ' +
  'mesa-vulkan-drivers and libvulkan1 from bookworm-backports, plus the EGL/GLES libraries for the ' +
  'OpenGL ES fallback); with a GPU, install its Vulkan driver.';

// Dawn timestamps are quantised to ~100 µs by default to blunt timing attacks, which
// would make per-kernel times of small kernels read as zero.
const BASE_FLAGS = ['disable-dawn-features=timestamp_quantization'];

/**
 * Parses an adapter choice (from `EINATTN_ADAPTER` or an option); `source` names it in errors.
 * @example parseAdapterChoice(process.env.EINATTN_ADAPTER, 'EINATTN_ADAPTER') // 'auto' when unset
 */
export function parseAdapterChoice(value: string | undefined, source = 'adapter'): AdapterChoice {
  if (value === undefined || value === '') return 'auto';
  const v = value.trim().toLowerCase();
  if ((CHOICES as readonly string[]).includes(v)) return v as AdapterChoice;
  throw new EinattnError('NO_ADAPTER', `${source}='${value}' is not one of ${CHOICES.join(' | ')}`);
}

/**
 * Whether an adapter is a CPU rasteriser (lavapipe/llvmpipe, SwiftShader) rather than a GPU.
 * @example isSoftwareAdapter(adapter.info) // true under lavapipe
 */
export function isSoftwareAdapter(info: GPUAdapterInfo): boolean {
  if (info.isFallbackAdapter) return true;
  const text = `${info.vendor} ${info.architecture} ${info.device} ${info.description}`.toLowerCase();
  return /llvmpipe|lavapipe|swiftshader|softpipe|software/.test(text);
}

/**
 * A short name for a software rasteriser, for reason strings.
 * @example softwareName(adapter.info) // 'lavapipe'
 */
export function softwareName(info: GPUAdapterInfo): string {
  const text = `${info.device} ${info.description}`.toLowerCase();
  if (text.includes('swiftshader')) return 'SwiftShader';
  if (text.includes('llvmpipe') || text.includes('lavapipe')) return 'lavapipe';
  return info.description || info.device || 'unknown software adapter';
}

function adapterLabel(info: GPUAdapterInfo): string {
  return info.description || info.device || info.vendor || 'unnamed adapter';
}

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
 * @example const { gpu, adapter, kind, reason } = await chooseAdapter('auto')
 */
export async function chooseAdapter(choice: AdapterChoice, source = 'adapter'): Promise<ChosenAdapter> {
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
          return { gpu, adapter: soft, kind: 'software', backend: nativeBackend(), reason: `${why}using software ${nativeBackend() === 'vulkan' ? 'Vulkan' : nativeBackend()} (${softwareName(soft.info)})` };
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
