/**
 * Debian's Chromium driven by playwright-core: the browser the dashboard's tests run in.
 * Missing Chromium fails the suite with how to install it (CI's .ci/run installs it); it is
 * never skipped silently.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';

export const CHROMIUM = process.env.MDMSIM_CHROMIUM ?? '/usr/bin/chromium';
export const ARTIFACTS = join(__dirname, '..', '..', 'test-artifacts', 'dashboard');

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `the browser tests need Chromium at ${CHROMIUM} and it is not there: install Debian's with ` +
        '`sudo apt-get update && sudo apt-get install -y chromium` (.ci/run does this on a fresh machine), ' +
        'or set MDMSIM_CHROMIUM to a Chromium binary',
    );
  }
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
}

/** A page on the lab's self-signed HTTPS, failing the test on any error the page throws. */
export async function openPage(browser: Browser, pageErrors: string[]): Promise<Page> {
  const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1400, height: 950 } });
  const page = await context.newPage();
  page.on('pageerror', (error) => pageErrors.push(error.message));
  return page;
}

/** Saves what the page shows now as test-artifacts/dashboard/<name>.png. */
export async function snapshot(page: Page, name: string): Promise<void> {
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}
