// Debian's Chromium for the page tests (playwright-core drives it; no browser is downloaded).
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

export const CHROMIUM = '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
/** Skipped only when Chromium is absent and CI is unset (CI installs it: a missing one fails there). */
export const SKIP_BROWSER = !existsSync(CHROMIUM) && !process.env.CI;
if (SKIP_BROWSER) {
  console.warn(`browser test skipped: ${CHROMIUM} is absent (install it with: apt-get install -y chromium); with CI set this fails instead`);
}
export const ARTIFACTS = resolve(import.meta.dirname, '../../test-artifacts');
