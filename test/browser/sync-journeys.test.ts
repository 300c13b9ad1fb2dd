import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateMailbox, loadIntoSimulator, oracle, type GeneratedMailbox } from '../../sim/generator/index.ts';
import { createCompany } from '../helpers/fixtures.ts';
import { startTestSimulators, type TestSimulators } from '../helpers/simulators.ts';
import { launchBrowser, prepareBrowserTests, screenshot, startProduct, openPage, signIn, type Product } from './harness.ts';

/**
 * Browser journeys over a real sync: a recruiter connects a generated Google mailbox through the simulated consent
 * page, and the historical sync runs in the product's own job queue and sync engine. The queue runs only when the
 * test drains it (`POST /_test/jobs/drain`), and the simulator's per-user quota, on a frozen simulator clock, lets
 * through only part of the sync per quota minute: so the progress the recruiter sees part-way is a state the
 * engine really passed through, and each step of it comes when the test moves both clocks a minute on.
 * Then an admin lowers the email access level, and the recruiter, in a browser of their own, sees why they were
 * disconnected and reconnects.
 */
const DOMAIN = 'northwind-sync.test';
const RITA = `rita@${DOMAIN}`;
const PROVIDER = 'google';
/** Gmail quota units per user and minute: less than all of this mailbox's historical sync costs (the loop below raises it if not even one page fits). */
const FIRST_QUOTA = 120;

type SyncView = { phase: string; messagesIngested: number; messagesExamined: number; progress: number | null; estimatedCompletionAt: string | null };

let browser: Browser;
let product: Product;
let sim: TestSimulators;
let company: Awaited<ReturnType<typeof createCompany>>;
let generated: GeneratedMailbox;
const candidateIds = new Map<string, string>();

beforeAll(async () => {
  prepareBrowserTests();
  sim = await startTestSimulators();
  // The simulator's clock stands still at the start of a quota minute; only the test moves it (and the product's).
  // A minute ahead, so that the product's clock (real time until set) has not passed it by the time it is set.
  const now = new Date(Math.ceil(Date.now() / 60_000) * 60_000 + 60_000 + 1000);
  await sim.control('POST', '/_sim/clock', { now: now.toISOString(), frozen: true });
  [browser, product] = await Promise.all([launchBrowser(), startProduct({ simulatorUrl: sim.url, jobs: true })]);
  product.api.clock.set(now);

  company = await createCompany(product.api, 'Northwind Talent', DOMAIN);
  const c = company;
  generated = generateMailbox({ seed: 'browser-sync', owner: { address: RITA, name: 'Rita Recruiter' }, companyDomain: DOMAIN, now, size: 'demo' });
  await sim.control('POST', '/_sim/tenants', { provider: PROVIDER, domain: DOMAIN });
  await loadIntoSimulator(sim.state, { provider: PROVIDER, address: RITA }, generated);
  for (const cand of generated.candidates) {
    const created = await c.json('POST', `/api/v1/contracts/${c.contract.id}/candidates`, { name: cand.name, emails: cand.emails, emailDiscovery: cand.discovery });
    candidateIds.set(cand.key, created.id);
    if (cand.degree !== null) await c.json('PUT', `/api/v1/candidates/${created.id}/connections`, { userId: c.recruiter.id, degree: cand.degree });
  }
  for (const project of generated.projects) {
    const created = await c.json('POST', `/api/v1/contracts/${c.contract.id}/projects`, { name: project.name });
    for (const key of project.candidateKeys) await c.json('POST', `/api/v1/projects/${created.id}/candidates`, { candidateId: candidateIds.get(key) });
    if (project.status === 'closed') await c.json('PATCH', `/api/v1/projects/${created.id}`, { status: 'closed' });
  }
  await c.json('PUT', `/api/v1/contracts/${c.contract.id}/settings`, { emailProvider: PROVIDER, emailAccess: 'send_and_view', calendarEnabled: false });
  await sim.control('PUT', '/_sim/limits', { provider: PROVIDER, perUserUnitsPerMinute: FIRST_QUOTA });
});

afterAll(async () => {
  await browser?.close();
  await product?.close();
  await sim?.close();
});

async function testMode(path: string, body?: unknown) {
  const res = await fetch(`${product.url}${path}`, { method: 'POST', ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }) });
  expect(res.status, await res.clone().text()).toBe(200);
  return res.json();
}
const drain = () => testMode('/_test/jobs/drain');

/** A quota minute later, on both clocks: jobs put back for the quota's Retry-After are due again. */
async function nextMinute() {
  const sim_ = await sim.control('GET', '/_sim/clock');
  await sim.control('POST', '/_sim/clock', { now: new Date(Date.parse(sim_.now) + 60_000).toISOString(), frozen: true });
  await testMode('/_test/clock', { now: new Date(product.api.clock.now().getTime() + 60_000).toISOString() });
}

async function syncView(): Promise<SyncView> {
  const res = await product.api.call('GET', `/api/v1/seats/${company.seat.id}/mailbox`, { token: company.contractToken, actAs: company.recruiter.id });
  expect(res.statusCode, res.body).toBe(200);
  return res.json().email.sync;
}



/** What the oracle expects stored after the historical sync that actually ran (its authorization and start times). */
async function expectedMessages() {
  const grant = await product.api.ctx.db.selectFrom('mailbox_authorizations').selectAll().where('seat_id', '=', company.seat.id).where('kind', '=', 'email').executeTakeFirstOrThrow();
  const state = await product.api.ctx.db.selectFrom('sync_states').selectAll().where('authorization_id', '=', grant.id).executeTakeFirstOrThrow();
  const expected = oracle(generated, { authorizedAt: grant.first_authorized_at, firstAuthorizedAt: grant.first_authorized_at, syncAt: state.historical_started_at! });
  return generated.messages.filter((m) => expected.get(m.key)?.ingested);
}

const fact = (page: Page, term: string) => page.getByTestId('email-card').locator('dt', { hasText: term }).locator('xpath=following-sibling::dd[1]');

describe('recruiter: a real historical sync, then an admin downgrade', () => {
  let recruiter: { context: BrowserContext; page: Page; problems: string[] };

  it('connects through the consent page, watches the sync progress part-way and to the end, then finds the synced thread on the candidate profile (R-20, R-63)', async () => {
    recruiter = await openPage(browser);
    const { page } = recruiter;
    await signIn(page, product.url, RITA);
    await page.getByRole('heading', { name: 'My email & calendar' }).waitFor();
    const email = page.getByTestId('email-card');
    await expect.poll(() => email.getByText('Not connected', { exact: true }).isVisible()).toBe(true);

    // The consent page of the simulated Google approves at once for this mailbox and sends the browser back.
    const providerRequest = page.waitForRequest((r) => r.isNavigationRequest() && r.url().includes('/o/oauth2/v2/auth'));
    await email.getByRole('button', { name: 'Connect email' }).click();
    const authorization = new URL((await providerRequest).url());
    // Let the browser's own navigation to the consent page finish first, or the next one would interrupt it.
    await page.waitForURL((u) => u.href.includes('/o/oauth2/v2/auth'));
    authorization.searchParams.set('auto_consent', '1');
    authorization.searchParams.set('login_hint', RITA);
    await page.goto(authorization.toString());
    await page.getByText('Your email is connected. Syncing your candidate conversations starts now.').waitFor();
    // Queued, not yet begun: the page says it is about to start, not that nothing syncs.
    expect(await syncView()).toMatchObject({ phase: 'idle', messagesExamined: 0 });
    await expect.poll(() => email.getByTestId('sync-phase').textContent()).toBe('Starting: importing your past email begins in a moment.');

    // The first quota minute: the sync gets through its first page(s), then the quota puts the job back for later.
    let partial = (await drain(), await syncView());
    for (let quota = FIRST_QUOTA; partial.messagesExamined === 0 && partial.phase === 'historical'; ) {
      // Not even one page fits: the engine asks more per page than this quota assumed. Give it more.
      quota = Math.round(quota * 1.5);
      await sim.control('PUT', '/_sim/limits', { provider: PROVIDER, perUserUnitsPerMinute: quota });
      await nextMinute();
      partial = (await drain(), await syncView());
    }
    expect(partial.phase, 'the historical sync should still be running after one quota minute').toBe('historical');
    expect(partial.progress).toBeGreaterThan(0);
    expect(partial.progress).toBeLessThan(1);
    const all = await expectedMessages();
    expect(partial.messagesIngested).toBeLessThan(all.length);

    // The page refreshes its progress by itself while the import runs: bar, counts and estimate as the engine left them.
    const bar = email.getByRole('progressbar', { name: 'Historical sync progress' });
    const percent = Math.round(partial.progress! * 100);
    await expect.poll(() => bar.getAttribute('value'), { timeout: 10_000 }).toBe(String(percent));
    await expect.poll(() => email.getByTestId('sync-phase').textContent()).toBe('Importing past email');
    await expect.poll(() => email.locator('.progress-row > span').textContent()).toBe(`${percent}%`);
    await expect.poll(() => fact(page, 'Messages examined').textContent()).toBe(`${partial.messagesExamined} messages`);
    await expect.poll(() => fact(page, 'Candidate emails synced').textContent()).toBe(`${partial.messagesIngested} email${partial.messagesIngested === 1 ? '' : 's'}`);
    expect(partial.estimatedCompletionAt).not.toBeNull();
    await expect.poll(() => fact(page, 'Estimated to finish').textContent()).not.toBe('—');
    await screenshot(page, 'sync-progress-partial');

    // Minute by minute until the import is done; every minute moves it on.
    let view = partial;
    for (let minute = 0; view.phase !== 'incremental'; minute++) {
      expect(minute, 'the historical sync should finish within ten quota minutes').toBeLessThan(10);
      await nextMinute();
      const before = view;
      view = (await drain(), await syncView());
      expect(view.messagesExamined >= before.messagesExamined).toBe(true);
      if (view.phase === 'historical' && view.messagesExamined === before.messagesExamined) {
        // A page costs more than the quota: let the next minute hold it.
        const limits = await sim.control('GET', '/_sim/limits');
        await sim.control('PUT', '/_sim/limits', { provider: PROVIDER, perUserUnitsPerMinute: limits.google.perUserUnitsPerMinute * 2 });
      }
    }
    expect(view).toMatchObject({ phase: 'incremental', progress: 1, messagesIngested: all.length });
    await expect.poll(() => email.getByTestId('sync-phase').textContent(), { timeout: 10_000 }).toBe('Up to date');
    await expect.poll(() => bar.getAttribute('value')).toBe('100');
    await expect.poll(() => fact(page, 'Candidate emails synced').textContent()).toBe(`${all.length} emails`);
    // Once the import is done the page stops refreshing by itself, and the poll that runs right after it may already
    // have examined more than the page's last look saw (likelier on a slow machine): read afresh, it shows the
    // engine's count.
    await page.reload();
    const settled = await syncView();
    await expect.poll(() => fact(page, 'Messages examined').textContent(), { timeout: 10_000 }).toBe(`${settled.messagesExamined} messages`);
    await screenshot(page, 'sync-progress-complete');

    // The candidate with the most synced mail, found through the talent pool search, shows it on their profile.
    const byCandidate = new Map<string, typeof all>();
    for (const m of all) {
      const key = m.people.find((p) => p.kind === 'candidate')!;
      if (key.kind === 'candidate') byCandidate.set(key.candidateKey, [...(byCandidate.get(key.candidateKey) ?? []), m]);
    }
    const [candidateKey, theirs] = [...byCandidate.entries()].sort((a, b) => b[1].length - a[1].length)[0]!;
    const candidate = generated.candidates.find((x) => x.key === candidateKey)!;
    await page.getByRole('navigation', { name: 'Candidates' }).getByRole('link', { name: 'Pipeline' }).click();
    await page.getByLabel('Search the talent pool').fill(candidate.name);
    await page.getByRole('link', { name: candidate.name, exact: true }).click();
    await page.getByRole('heading', { name: candidate.name, level: 1 }).waitFor();
    const threads = page.getByTestId('thread');
    const threadKeys = new Set(theirs.map((m) => m.threadKey));
    await expect.poll(() => threads.count(), { timeout: 10_000 }).toBe(threadKeys.size);
    // Threads are collapsed rows but the newest; each row says how many messages it holds.
    const messagesListed = async () => (await threads.locator('.thread-summary').allTextContents()).reduce((sum, text) => sum + Number(/(\d+) messages?/.exec(text)?.[1] ?? 0), 0);
    await expect.poll(messagesListed).toBe(theirs.length);
    // Each thread reads as its first message's subject, and is private to Rita until she shares it.
    const firstSubjects = [...threadKeys].map((key) => theirs.filter((m) => m.threadKey === key).sort((a, b) => a.date.localeCompare(b.date))[0]!.subject).sort();
    expect((await threads.locator('h3').allTextContents()).sort()).toEqual(firstSubjects);
    await expect.poll(() => threads.first().getByRole('button', { name: 'Share thread with the company' }).isVisible()).toBe(true);
    expect(recruiter.problems).toEqual([]);
  });

  it('an admin lowers the email access level; the recruiter, in their own browser, sees that they were disconnected, why, and reconnects (R-03, R-22, R-23)', async () => {
    const { page } = recruiter;
    const admin = await openPage(browser);
    await signIn(admin.page, product.url, `admin@${DOMAIN}`);
    await admin.page.getByRole('heading', { name: 'Company email & calendar' }).waitFor();
    await admin.page.getByRole('radio', { name: /View only/ }).check();
    await admin.page.getByRole('button', { name: 'Save changes' }).click();
    await admin.page.getByRole('dialog', { name: 'Disconnect 1 seat?' }).getByRole('button', { name: 'Disconnect 1 seat and save' }).click();
    await admin.page.getByText('Settings saved. 1 seat disconnected; their recruiters must connect again.').waitFor();
    expect(admin.problems).toEqual([]);
    await admin.context.close();

    // The recruiter comes back to their settings: disconnected, the reason, and what to do.
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'My email & calendar' }).click();
    const email = page.getByTestId('email-card');
    await expect.poll(() => email.getByText('Disconnected', { exact: true }).isVisible(), { timeout: 10_000 }).toBe(true);
    const notice = email.getByText(/^Your email was disconnected on /);
    await expect.poll(() => notice.textContent()).toContain('Your admin lowered the company email access level, which disconnects every mailbox. Connect again to continue.');
    await expect.poll(() => email.getByTestId('sync-phase').textContent()).toBe('Stopped: nothing new syncs until you connect again. Email already synced stays.');
    await expect.poll(() => email.getByRole('progressbar').count()).toBe(0);
    const all = await expectedMessages();
    await expect.poll(() => fact(page, 'Candidate emails synced').textContent()).toBe(`${all.length} emails`);
    const connect = email.getByRole('button', { name: 'Connect email' });
    await expect.poll(() => connect.isEnabled()).toBe(true);
    await screenshot(page, 'recruiter-disconnected-by-admin');
    const mailbox = (await product.api.call('GET', `/api/v1/seats/${company.seat.id}/mailbox`, { token: company.contractToken, actAs: company.recruiter.id })).json();
    expect(mailbox.email).toMatchObject({ state: 'deauthorized', reason: 'access_level_downgrade' });

    // The fix: connect again, now asking to read only; the sync resumes from where it stopped, nothing twice.
    const providerRequest = page.waitForRequest((r) => r.isNavigationRequest() && r.url().includes('/o/oauth2/v2/auth'));
    await connect.click();
    const authorization = new URL((await providerRequest).url());
    // Let the browser's own navigation to the consent page finish first, or the next one would interrupt it.
    await page.waitForURL((u) => u.href.includes('/o/oauth2/v2/auth'));
    expect(authorization.searchParams.get('scope')).toContain('https://www.googleapis.com/auth/gmail.readonly');
    expect(authorization.searchParams.get('scope')).not.toContain('https://www.googleapis.com/auth/gmail.send');
    authorization.searchParams.set('auto_consent', '1');
    authorization.searchParams.set('login_hint', RITA);
    await page.goto(authorization.toString());
    await page.getByText('Your email is connected. Syncing your candidate conversations starts now.').waitFor();
    await nextMinute();
    await drain();
    expect(await syncView()).toMatchObject({ phase: 'incremental', messagesIngested: all.length });
    await page.getByRole('button', { name: 'Refresh' }).click();
    await expect.poll(() => email.getByText('Connected', { exact: true }).isVisible()).toBe(true);
    await expect.poll(() => email.getByTestId('sync-phase').textContent()).toBe('Up to date');
    await expect.poll(() => email.getByRole('progressbar', { name: 'Historical sync progress' }).getAttribute('value')).toBe('100');
    expect(recruiter.problems).toEqual([]);
    await recruiter.context.close();
  });
});
