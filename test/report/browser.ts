/**
 * A headless Chromium for checking the HTML report: the system's chromium, driven by
 * playwright-core (examples/web/chromium.ts, which the WebGPU page tests and bench:web share).
 * A missing browser fails the test, like a missing GPU adapter does.
 */
export { CHROMIUM_PATHS, findChromium, launchChromium } from '../../examples/web/chromium.ts';
