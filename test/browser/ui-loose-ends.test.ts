import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_PASSWORD } from '../../src/demo/seed.ts';
import { startTestApi, type TestApi } from '../helpers/app.ts';
import { backends } from '../helpers/databases.ts';
import { createCompany, insertGrant, insertMessage } from '../helpers/fixtures.ts';
import { freePort } from '../helpers/product.ts';
import { startTestSimulators, type TestSimulators } from '../helpers/simulators.ts';
import type { Database } from '../../src/store/database.ts';
import { abandoned, launchBrowser, openPage, prepareBrowserTests, screenshot, signIn } from './harness.ts';

/**
 * The loose ends of the UI, each as a journey in Chromium: no rule ids where people read, the audit log in
 * sentences with filters, view-only seats without dead ends, the not-found page for an unknown candidate, the
 * demo's sign-ins, the simulated consent page that says what it is, and a quiet console.
 */
const DOMAIN = 'umbrella.test';
const RULE_ID = /\bR-\d{2}\b/;

let browser: Browser;
let database: Database;
let api: TestApi;
let url: string;
let sim: TestSimulators;

beforeAll(async () => {
  prepareBrowserTests();
  sim = await startTestSimulators();
  database = await backends[0]!.open();
  const port = await freePort();
  url = `http://127.0.0.1:${port}`;
  // The product as the demo runs it: its sign-ins are offered on the sign-in page.
  api = await startTestApi(database, {
    simulatorUrl: sim.url,
    publicUrl: url,
    serveWeb: true,
    demo: { password: DEMO_PASSWORD, logins: [{ email: `ada@${DOMAIN}`, name: 'Ada Admin', role: 'admin' }] },
  });
  await api.app.listen({ port, host: '127.0.0.1' });
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
  await api?.close();
  await database?.close();
  await sim?.close();
});

/**
 * Every console error and warning, every error answer (favicon and resources included) and every request that
 * failed — but one the browser abandoned when the test navigated on (`abandoned`).
 */
function noise(page: Page): string[] {
  const seen: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') seen.push(`console ${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => seen.push(`page error: ${e.message}`));
  page.on('response', (r) => {
    if (r.status() >= 400) seen.push(`${r.status()} ${new URL(r.url()).pathname}`);
  });
  page.on('requestfailed', (r) => {
    if (!abandoned(r)) seen.push(`failed ${r.failure()?.errorText ?? ''} ${r.url()}`);
  });
  return seen;
}

const visibleText = (page: Page) => page.evaluate(() => document.body.innerText);

/** What a person reads on the page beyond its text: tooltips, accessible names, placeholders, the tab title. */
const labels = (page: Page) =>
  page.evaluate(() =>
    [document.title, ...Array.from(document.querySelectorAll('[title],[aria-label],[placeholder],[alt],[aria-description]')).flatMap((e) => ['title', 'aria-label', 'placeholder', 'alt', 'aria-description'].map((a) => e.getAttribute(a) ?? ''))].join('\n'),
  );

describe('UI loose ends', () => {
  it('sign-in page: the demo offers its sign-ins, a favicon is served, and the session probe logs no 401', async () => {
    const { context, page } = await openPage(browser);
    const problems = noise(page);
    const icon = page.waitForResponse((r) => /favicon/.test(r.url()));
    await page.goto(`${url}/`);
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    const favicon = await icon;
    expect([favicon.status(), favicon.headers()['content-type']]).toEqual([200, 'image/svg+xml']);
    const demo = page.getByRole('region', { name: 'Demo sign-ins' });
    await demo.waitFor();
    expect(await demo.textContent()).toContain(DEMO_PASSWORD);
    await screenshot(page, 'sign-in-demo');
    // Choosing a login fills the form.
    await demo.getByRole('button', { name: /Ada Admin/ }).click();
    expect(await page.getByLabel('Work email').inputValue()).toBe(`ada@${DOMAIN}`);
    expect(await page.getByLabel('Password').inputValue()).toBe(DEMO_PASSWORD);
    expect(problems).toEqual([]);
    await context.close();

    // A deployment that is not the demo says nothing about sign-ins.
    const plain = await startTestApi(database);
    try {
      const signedOut = await plain.call('GET', '/api/v1/session', { token: null });
      expect([signedOut.statusCode, signedOut.json()]).toEqual([200, { user: null }]);
    } finally {
      await plain.close();
    }
  });

  it('admin: no rule ids anywhere; the audit log speaks in sentences with names, filters by person and action, and pages', async () => {
    const c = await createCompany(api, 'Umbrella Hiring', `audit.${DOMAIN}`);
    const as = (userId: string) => ({ token: c.contractToken, actAs: userId });
    await api.call('PUT', `/api/v1/contracts/${c.contract.id}/settings`, { ...as(c.admin.id), body: { emailProvider: 'google' } });
    await api.call('PUT', `/api/v1/contracts/${c.contract.id}/settings`, { ...as(c.admin.id), body: { emailAccess: 'send_and_view' } });
    // Enough entries by Ada for a second page.
    for (let i = 0; i < 21; i++) {
      await api.call('PUT', `/api/v1/contracts/${c.contract.id}/settings`, { ...as(c.admin.id), body: { calendarEnabled: i % 2 === 0 } });
    }
    const shared = await insertMessage(api, { contractId: c.contract.id, seatId: c.seat.id, ownerUserId: c.recruiter.id, candidateId: c.candidate.id, subject: 'Frontend role' });
    const secret = await insertMessage(api, { contractId: c.contract.id, seatId: c.seat.id, ownerUserId: c.recruiter.id, candidateId: c.candidate.id, subject: 'Counter offer' });
    await api.call('PATCH', `/api/v1/threads/${shared.threadId}`, { ...as(c.recruiter.id), body: { visibility: 'contract' } });
    await api.call('PATCH', `/api/v1/threads/${secret.threadId}`, { ...as(c.recruiter.id), body: { visibility: 'contract' } });
    await api.call('PATCH', `/api/v1/threads/${secret.threadId}`, { ...as(c.recruiter.id), body: { visibility: 'private' } });
    await api.call('GET', `/api/v1/seats/${c.seat.id}/export`, as(c.recruiter.id));

    const { context, page, problems } = await openPage(browser);
    await signIn(page, url, c.admin.email);
    await page.getByRole('heading', { name: 'Company email & calendar' }).waitFor();
    const audit = page.getByRole('list', { name: 'Audit entries, newest first' });
    await audit.getByRole('listitem').first().waitFor();
    expect(await visibleText(page)).not.toMatch(RULE_ID);
    // Rule marks are for tests and tools: nothing of them is drawn.
    expect(await page.locator('[data-rule]').evaluateAll((marks) => marks.every((m) => (m as HTMLElement).offsetWidth === 0))).toBe(true);
    const text = (await audit.textContent())!;
    // Ada acted through the integration here, and the log says so.
    expect(text).toContain('Ada Admin (through an integration) changed the calendar from Off to On');
    expect(text).toContain('Rita Recruiter (through an integration) exported 2 messages');
    expect(text).toContain('Rita Recruiter (through an integration) shared the thread “Frontend role” with the company');
    expect(text).toContain('Rita Recruiter (through an integration) made a thread private');
    // A private thread's subject never reaches the admin, and no identifiers are dumped.
    expect(text).not.toContain('Counter offer');
    expect(text).not.toMatch(/[0-9a-f]{8}-[0-9a-f]{4}-|seatId|userId/);

    // Filter by person: Ada's entries only, twenty at a time, then the older ones.
    await page.getByLabel('Person').selectOption({ label: 'Ada Admin' });
    await expect.poll(() => audit.getByRole('listitem').count()).toBe(20);
    expect((await audit.getByRole('listitem').allTextContents()).every((t) => t.includes('Ada Admin'))).toBe(true);
    await page.getByRole('button', { name: 'Show older entries' }).click();
    await page.getByText('That is every matching entry.').waitFor();
    expect(await audit.getByRole('listitem').count()).toBeGreaterThan(20);

    // Filter by action as well.
    await page.getByLabel('Person').selectOption({ label: 'Everyone' });
    await page.getByLabel('Action').selectOption({ label: 'Messages exported' });
    await expect.poll(() => audit.getByRole('listitem').count()).toBe(1);
    expect(await audit.getByRole('listitem').first().textContent()).toContain('exported 2 messages');
    await page.getByLabel('Action').selectOption({ label: 'Thread shared or made private' });
    await expect.poll(() => audit.getByRole('listitem').count()).toBe(3);
    await screenshot(page, 'audit-log');
    expect(problems).toEqual([]);
    await context.close();
  });

  it("a recruiter's every screen: no rule ids in text, tooltips or labels, and not one console complaint or failed request", async () => {
    const c = await createCompany(api, 'Umbrella Screens', `screens.${DOMAIN}`);
    await c.json('PUT', `/api/v1/contracts/${c.contract.id}/settings`, { emailProvider: 'google', emailAccess: 'send_and_view', calendarEnabled: true });
    const read = 'https://www.googleapis.com/auth/gmail.readonly';
    const send = 'https://www.googleapis.com/auth/gmail.send';
    await insertGrant(api, { seatId: c.seat.id, contractId: c.contract.id, kind: 'email', provider: 'google', scopes: [read, send], address: c.recruiter.email });
    await insertGrant(api, { seatId: c.seat.id, contractId: c.contract.id, kind: 'calendar', provider: 'google', scopes: ['https://www.googleapis.com/auth/calendar.events'], address: c.recruiter.email });
    await insertMessage(api, { contractId: c.contract.id, seatId: c.seat.id, ownerUserId: c.recruiter.id, candidateId: c.candidate.id, subject: 'Frontend role' });

    const { context, page } = await openPage(browser);
    const heard = noise(page);
    const read_ = async (screen: string) => {
      const text = `${await visibleText(page)}\n${await labels(page)}`;
      expect(text, screen).not.toMatch(RULE_ID);
    };
    await page.goto(`${url}/`);
    await page.getByLabel('Work email').waitFor();
    await read_('sign-in');
    await signIn(page, url, c.recruiter.email);
    await page.getByRole('heading', { name: 'My email & calendar' }).waitFor();
    await page.getByTestId('email-card').getByText('Connected').first().waitFor();
    await read_('my email & calendar');
    await page.getByRole('link', { name: 'Pipeline' }).click();
    await page.getByText('Carla Candidate').first().waitFor();
    await read_('pipeline');
    await page.goto(`${url}/candidates/${c.candidate.id}`);
    const thread = page.getByTestId('thread').first();
    await thread.waitFor();
    await read_('messages');
    await thread.getByRole('button', { name: /^Actions for the message/ }).first().click();
    await page.getByRole('menuitem').first().waitFor();
    await read_('message menu');
    await page.keyboard.press('Escape');
    const why = page.getByTestId('why-not-here');
    await why.getByRole('button', { name: 'Check' }).click();
    await why.getByRole('list', { name: /^Sync decisions for / }).getByRole('listitem').first().waitFor();
    await read_("why isn't an email here");
    await page.getByRole('tab', { name: 'Schedule screening' }).click();
    await page.getByTestId('schedule').waitFor();
    await read_('schedule screening');
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByText('You are signed out.').waitFor();
    await read_('signed out');
    expect(heard).toEqual([]);
    await context.close();
  });

  it('view-only seat: no Reply and no compose pane, one sentence says why and who can change it', async () => {
    const c = await createCompany(api, 'Umbrella Viewing', `view.${DOMAIN}`);
    await c.json('PUT', `/api/v1/contracts/${c.contract.id}/settings`, { emailProvider: 'google', emailAccess: 'view' });
    await insertMessage(api, { contractId: c.contract.id, seatId: c.seat.id, ownerUserId: c.recruiter.id, candidateId: c.candidate.id, subject: 'Screening call' });

    const { context, page, problems } = await openPage(browser);
    await signIn(page, url, c.recruiter.email);
    await page.getByRole('heading', { name: 'My email & calendar' }).waitFor();
    await page.goto(`${url}/candidates/${c.candidate.id}`);
    const thread = page.getByTestId('thread').first();
    await thread.waitFor();
    await page
      .getByText('Your company’s email access is View only, so you cannot send or reply from here. An admin can change it to Send & view under Company email & calendar.')
      .waitFor();
    expect(await page.getByRole('button', { name: 'Reply' }).count()).toBe(0);
    expect(await page.getByTestId('compose').count()).toBe(0);
    expect(await page.getByRole('button', { name: 'Send' }).count()).toBe(0);
    expect(await visibleText(page)).not.toMatch(RULE_ID);
    await screenshot(page, 'candidate-view-only');
    expect(problems).toEqual([]);
    await context.close();
  });

  it('an unknown candidate shows the not-found page with a way back to the pipeline', async () => {
    const c = await createCompany(api, 'Umbrella Missing', `missing.${DOMAIN}`);
    const { context, page } = await openPage(browser);
    await signIn(page, url, c.recruiter.email);
    await page.getByRole('heading', { name: 'My email & calendar' }).waitFor();
    await page.goto(`${url}/candidates/00000000-0000-4000-8000-000000000000`);
    await page.getByRole('heading', { name: 'Candidate not found' }).waitFor();
    expect(await page.title()).toBe('Candidate not found · recruiter-sync');
    await screenshot(page, 'candidate-not-found');
    await page.getByRole('link', { name: 'Back to the pipeline' }).click();
    await page.waitForURL(`${url}/pipeline`);
    await context.close();
  });

  it.each(['google', 'microsoft'] as const)('the simulated %s consent page says it is the local simulator and asks for no password', async (provider) => {
    const domain = `consent-${provider}.${DOMAIN}`;
    const c = await createCompany(api, 'Umbrella Consent', domain);
    await c.json('PUT', `/api/v1/contracts/${c.contract.id}/settings`, { emailProvider: provider, emailAccess: 'view' });
    await sim.control('POST', '/_sim/tenants', { provider, domain });
    await sim.control('POST', '/_sim/mailboxes', { provider, address: c.recruiter.email });

    const { context, page } = await openPage(browser);
    await signIn(page, url, c.recruiter.email);
    const email = page.getByTestId('email-card');
    await email.getByRole('button', { name: 'Connect email' }).click();
    await page.waitForURL((u) => u.href.startsWith(sim.url));
    const providerName = provider === 'google' ? 'Google' : 'Microsoft';
    await page.getByText(`Local simulator — not ${providerName}.`).waitFor();
    expect(await page.locator('input[type=password]').count()).toBe(0);
    const emailField = page.getByLabel('Email');
    if ((await emailField.inputValue()) === '') await emailField.fill(c.recruiter.email);
    if (provider === 'google') await screenshot(page, 'consent-simulator');
    await page.getByRole('button', { name: provider === 'google' ? 'Allow' : 'Accept' }).click();
    await page.getByText('Your email is connected. Syncing your candidate conversations starts now.').waitFor();
    await context.close();
  });
});
