/**
 * A headless Chromium for checking the HTML report: the system's chromium (installed by
 * scripts/setup-system.sh), driven by playwright-core. Playwright's own browser downloads are
 * never used. A missing browser fails the test, like a missing GPU adapter does.
 */
import { accessSync, constants } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

/** Where Chromium is looked for when EINATTN_CHROMIUM is not set: Debian's, then Ubuntu's. */
export const CHROMIUM_PATHS = ['/usr/bin/chromium', '/usr/bin/chromium-browser'];

const SETUP = 'run `bash scripts/setup-system.sh` (it installs Debian\'s chromium and fonts-dejavu-core), or set EINATTN_CHROMIUM to a Chromium or Chrome binary';

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
  throw new Error(`no Chromium for the HTML report's browser test (looked for ${CHROMIUM_PATHS.join(', ')}): ${SETUP}`);
}

/**
 * Launches the system's Chromium headless.
 * @example const browser = await launchChromium(); try { ... } finally { await browser.close() }
 */
export async function launchChromium(): Promise<Browser> {
  const executablePath = findChromium();
  try {
    return await chromium.launch({ executablePath, headless: true, timeout: 30_000 });
  } catch (e) {
    throw new Error(`could not start ${executablePath} headless: ${(e as Error).message}\nIf it is broken or incomplete, ${SETUP}`);
  }
}
