import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page, type Request } from 'playwright-core';
import { startTestApi, type TestApi } from '../helpers/app.ts';
import { backends } from '../helpers/databases.ts';
import { freePort, startTestJobs } from '../helpers/product.ts';
import type { Jobs } from '../../src/jobs/index.ts';
import type { Database } from '../../src/store/database.ts';

/**
 * What the browser tests share: Debian's Chromium (installed when missing), the built UI (rebuilt only when
 * its sources changed), and the product listening on a real loopback port with the UI served.
 */
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const CHROMIUM = '/usr/bin/chromium';
export const SCREENSHOTS = path.join(ROOT, 'test/screenshots');

const newestMtime = (dir: string): number =>
  fs.readdirSync(dir, { withFileTypes: true }).reduce((newest, entry) => {
    const full = path.join(dir, entry.name);
    return Math.max(newest, entry.isDirectory() ? newestMtime(full) : fs.statSync(full).mtimeMs);
  }, 0);

/** Chromium present and the UI built from the current sources. Safe to call more than once. */
export function prepareBrowserTests(): void {
  execFileSync('bash', [path.join(ROOT, 'scripts/ensure-chromium.sh')], { stdio: 'inherit' });
  const index = path.join(ROOT, 'dist/web/index.html');
  const sources = Math.max(newestMtime(path.join(ROOT, 'src/web')), fs.statSync(path.join(ROOT, 'vite.config.ts')).mtimeMs);
  if (!fs.existsSync(index) || fs.statSync(index).mtimeMs < sources) {
    execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'inherit' });
  }
}

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
  });
}

export interface Product {
  api: TestApi;
  database: Database;
  url: string;
  jobs: Jobs | undefined;
  close(): Promise<void>;
}

/**
 * The API server with the web UI on a loopback port; OAuth redirects come back to that same origin. With
 * `jobs`, the job queue runs with every worker registered in the web role: the OAuth callback enqueues the
 * historical sync, and only `POST /_test/jobs/drain` runs it, so a test steps the sync at its own pace.
 */
export async function startProduct(options: { simulatorUrl?: string; jobs?: boolean; imageProxy?: NonNullable<Parameters<typeof startTestApi>[1]>['imageProxy'] } = {}): Promise<Product> {
  const database = await backends[0]!.open();
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const ref: { jobs?: Jobs } = {};
  const api = await startTestApi(database, {
    ...(options.simulatorUrl ? { simulatorUrl: options.simulatorUrl } : {}),
    publicUrl: url,
    serveWeb: true,
    ...(options.imageProxy ? { imageProxy: options.imageProxy } : {}),
    ...(options.jobs ? { drain: () => ref.jobs!.drain(), jobs: { send: (...args) => ref.jobs!.send(...args) } } : {}),
  });
  if (options.jobs) ref.jobs = await startTestJobs(database, api);
  await api.app.listen({ port, host: '127.0.0.1' });
  return {
    api,
    database,
    url,
    jobs: ref.jobs,
    close: async () => {
      await api.close();
      await ref.jobs?.stop();
      await database.close();
    },
  };
}

/**
 * A request the browser gave up because a navigation replaced the page (or the page itself cancelled it):
 * net::ERR_ABORTED. Not a failure of the product — a slow machine only makes it likelier that a favicon or an API
 * call is still under way when the test moves on; an answer that did come back is judged by its status.
 */
export function abandoned(request: Request): boolean {
  return request.failure()?.errorText === 'net::ERR_ABORTED';
}

/** Problems a page reports by itself: script errors and Content-Security-Policy violations. */
export function watchPage(page: Page): string[] {
  const problems: string[] = [];
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error' && !/Failed to load resource/.test(message.text())) problems.push(`console: ${message.text()}`);
  });
  return problems;
}

/** The password every browser test user signs in with (the fixtures create them with it). */
export const PASSWORD = 'correct horse battery';

/** A fresh browser context (no cookies) at desktop size, with its page and the problems the page reports. */
export async function openPage(browser: Browser, options: { acceptDownloads?: boolean } = {}): Promise<{ context: BrowserContext; page: Page; problems: string[] }> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, ...options });
  const page = await context.newPage();
  return { context, page, problems: watchPage(page) };
}

/** Signs in through the form, keyboard only: Enter submits it. */
export async function signIn(page: Page, baseUrl: string, email: string): Promise<void> {
  await page.goto(`${baseUrl}/`);
  await page.getByLabel('Work email').fill(email);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByLabel('Password').press('Enter');
}

/** A picture of the screen for people to look at: the whole page from its top, or only the viewport (dialogs). */
export async function screenshot(page: Page, name: string, options: { fullPage?: boolean } = {}): Promise<void> {
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
  const fullPage = options.fullPage ?? true;
  if (fullPage) await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage });
}
