/**
 * Debian's Chromium, headless, driven by playwright-core: background networking off, every host but loopback
 * unresolvable, a fresh profile each launch (playwright makes one). Fails with one line saying how to install it when it is missing.
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export async function launchChromium(): Promise<{ browser: Browser; close(): Promise<void> }> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`chromium not found at ${CHROMIUM}: install it (Debian/Ubuntu: apt-get install chromium)`);
  }
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-default-apps',
      '--disable-extensions',
      '--metrics-recording-only',
      // Loopback only: every other name fails to resolve.
      '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost',
      // The test's throwaway certificate for wss:// (test-only flag).
      '--ignore-certificate-errors',
    ],
  });
  return {
    browser,
    close: () => browser.close(), // playwright made the profile in a temporary directory and removes it
  };
}
