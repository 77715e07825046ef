// The web console's tests' browser: Debian's Chromium driven by playwright-core, launched once per
// file, and a page signed in with a token that records what the page's Content-Security-Policy
// refused. Also the waits and checks every console test uses.
import { afterAll, beforeAll, expect } from '@jest/globals';
import { chromium, type Browser, type Locator, type Page } from 'playwright-core';
import { chromiumPath } from './chromium-setup.js';

/** What a page runs if it ever executes planted markup: each piece sets `__pwned`. */
export const HOSTILE = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>';

export interface ConsoleBrowser {
  browser: Browser;
  /** What pages tried that their Content-Security-Policy refused (an inline script, eval). */
  violations: string[];
  /** A new page on Errand at `url`, signed in with `token`, on the task list. */
  signIn(url: string, token: string): Promise<Page>;
}

/** Chromium for the file's tests (launched in beforeAll, closed in afterAll). */
export function useConsoleBrowser(): ConsoleBrowser {
  const violations: string[] = [];
  let browser: Browser | undefined;
  beforeAll(async () => {
    browser = await chromium.launch({
      executablePath: chromiumPath(),
      // This machine's network is closed: Chromium's own background traffic is turned off.
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  });
  afterAll(async () => {
    await browser?.close();
  });
  return {
    get browser() {
      if (!browser) throw new Error('useConsoleBrowser: the browser is read before beforeAll launched it');
      return browser;
    },
    violations,
    async signIn(url, token) {
      const page = await (await this.browser.newContext({ viewport: { width: 1200, height: 800 } })).newPage();
      const errors: string[] = [];
      page.on('pageerror', (err) => errors.push(err.message));
      page.on('console', (m) => m.type() === 'error' && /Content Security Policy/i.test(m.text()) && violations.push(m.text()));
      const res = await page.goto(`${url}/console`);
      expect(res?.headers()['content-security-policy']).toContain("script-src 'self'");
      // Its icon is in the page: no request for /favicon.ico, no 404.
      expect(await page.locator('link[rel="icon"]').getAttribute('href')).toMatch(/^data:image\/svg\+xml,/);
      await page.getByLabel('API token').fill(token);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('heading', { name: 'Tasks' }).waitFor();
      expect(errors).toEqual([]);
      return page;
    },
  };
}

/** What planted markup set, if any of it ran (undefined when none did). */
export const pwned = (page: Page) => page.evaluate(() => (globalThis as { __pwned?: number }).__pwned);

/** Waits until `locator` shows `text` (playwright-core has no web-first assertions of its own). */
export function shows(locator: Locator, text: string | RegExp, timeout = 30_000): Promise<void> {
  return locator.filter({ hasText: text }).first().waitFor({ timeout });
}
