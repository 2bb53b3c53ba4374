/**
 * A headless Chromium, driven by playwright-core: the system's chromium (installed by
 * scripts/setup-system.sh), never Playwright's own downloads. Used by the test suite (the HTML
 * report, the web pages on WebGPU) and by `npm run bench:web`. A missing browser is an error
 * that says what to install, like a missing GPU adapter.
 */
import { accessSync, constants } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

/** Where Chromium is looked for when EINATTN_CHROMIUM is not set: Debian's, then Ubuntu's. */
export const CHROMIUM_PATHS = ['/usr/bin/chromium', '/usr/bin/chromium-browser'];

/**
 * Flags for WebGPU in headless Chromium: `--enable-unsafe-webgpu` gives navigator.gpu an adapter
 * (SwiftShader without a GPU); `--no-sandbox` lets it run as root and in containers; the rest keep
 * the browser from reaching the network or updating itself. Playwright gives every launch a
 * fresh temporary profile (user data dir) of its own.
 */
export const WEBGPU_FLAGS = [
  '--no-sandbox',
  '--enable-unsafe-webgpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

const SETUP =
  "run `bash scripts/setup-system.sh` (it installs Debian's chromium and fonts-dejavu-core), or set EINATTN_CHROMIUM to a Chromium or Chrome binary";

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * The Chromium binary to drive: $EINATTN_CHROMIUM, else the first of CHROMIUM_PATHS that exists;
 * throws saying what to install when there is none.
 * @example findChromium() // '/usr/bin/chromium'
 */
export function findChromium(env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env.EINATTN_CHROMIUM;
  if (fromEnv) {
    if (executable(fromEnv)) return fromEnv;
    throw new Error(`EINATTN_CHROMIUM=${fromEnv} is not an executable file; unset it or ${SETUP}`);
  }
  const found = CHROMIUM_PATHS.find(executable);
  if (found) return found;
  throw new Error(`no Chromium for the browser tests and bench:web (looked for ${CHROMIUM_PATHS.join(', ')}): ${SETUP}`);
}

/**
 * Launches the system's Chromium headless, with WebGPU when asked.
 * @example const browser = await launchChromium({ webgpu: true }); try { ... } finally { await browser.close() }
 */
export async function launchChromium(opts: { webgpu?: boolean } = {}): Promise<Browser> {
  const executablePath = findChromium();
  try {
    return await chromium.launch({ executablePath, headless: true, timeout: 30_000, args: opts.webgpu ? WEBGPU_FLAGS : [] });
  } catch (e) {
    throw new Error(`could not start ${executablePath} headless: ${(e as Error).message}\nIf it is broken or incomplete, ${SETUP}`);
  }
}
