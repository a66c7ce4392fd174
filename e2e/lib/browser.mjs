// Headless Chromium for dashboard tests and the bench: Debian's /usr/bin/chromium (installed by
// scripts/setup/10-apt.sh from apt-packages.txt) driven by the pinned playwright-core. No
// browser is ever downloaded; a missing one fails with the install hint.
import { existsSync } from 'node:fs';
import { chromium } from 'playwright-core';

export const CHROMIUM = process.env.ATTRIB_CHROMIUM ?? '/usr/bin/chromium';
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export async function launchChromium() {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run bash scripts/setup/10-apt.sh (Debian package chromium)`);
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
}
