import fs from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSeatMailbox } from '../../src/sync/ingest/candidates.ts';
import { decideBatch } from '../../src/sync/ingest/decide.ts';
import { ingestBatch } from '../../src/sync/ingest/store.ts';
import type { SeatMailbox } from '../../src/sync/ingest/types.ts';
import { connectMailbox } from '../helpers/connect.ts';
import { createCompany, insertGrant, insertMessage } from '../helpers/fixtures.ts';
import { startTestSimulators, type TestSimulators } from '../helpers/simulators.ts';
import { decideContext, mail, type MailSpec } from '../sync/ingest/setup.ts';
import { launchBrowser, prepareBrowserTests, screenshot, startProduct, openPage, PASSWORD, signIn, type Product } from './harness.ts';
import { unzip } from '../helpers/zip.ts';

/**
 * Browser journeys over candidate email: mail seeded through the sync engine's own ingest step (so it is
 * stored exactly as synced mail is), then read, shared, answered, explained and exported through the UI.
 */
const DOMAIN = 'initech.test';
const RITA = `rita@${DOMAIN}`;
const SAM = `sam@${DOMAIN}`;
const CARLA = 'carla@mail.example';
const SUBJECT = 'Backend role: next steps';
// Each payload would leave a mark on the page if it ran.
const HOSTILE_HTML = [
  '<p>Please find my portfolio below.</p>',
  '<script>window.top.__pwned = "script"; document.title = "pwned";</script>',
  '<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" onerror="window.top.__pwned=\'onerror\'" onload="window.top.__pwned=\'onload\'" alt="pixel">',
  '<a href="javascript:window.top.__pwned=\'link\'">my site</a>',
  '<iframe srcdoc="<script>window.top.__pwned=\'iframe\'</script>"></iframe>',
  '<svg onload="window.top.__pwned=\'svg\'"></svg>',
  '<form action="javascript:window.top.__pwned=\'form\'"><button>Go</button></form>',
].join('\n');

let browser: Browser;
let product: Product;
let sim: TestSimulators;
let company: Awaited<ReturnType<typeof createCompany>>;
let sam: { id: string };
let samSeat: { id: string };
let inbound: { id: string; threadId: string; messageId: string };

async function ingest(mailbox: SeatMailbox, specs: MailSpec[], now: Date) {
  const mails = await Promise.all(specs.map(mail));
  const decisions = await decideBatch(product.api.ctx.db, mailbox.seatId, mails.map((m) => m.facts), await decideContext(product.api, mailbox, now));
  await ingestBatch(product.api.ctx.db, mailbox, mails.map((m, i) => ({ facts: m.facts, decision: decisions[i]!, ...(decisions[i]!.ingested ? { raw: m.raw } : {}) })), now);
  return decisions;
}

beforeAll(async () => {
  prepareBrowserTests();
  sim = await startTestSimulators();
  [browser, product] = await Promise.all([launchBrowser(), startProduct({ simulatorUrl: sim.url })]);
  const api = product.api;
  company = await createCompany(api, 'Initech Recruiting', DOMAIN);
  const c = company;
  await c.json('PUT', `/api/v1/contracts/${c.contract.id}/settings`, { emailProvider: 'google', emailAccess: 'send_and_view', calendarEnabled: true });
  sam = await c.json('POST', `/api/v1/contracts/${c.contract.id}/users`, { email: SAM, name: 'Sam Sourcer', role: 'recruiter', password: PASSWORD });
  samSeat = await c.json('POST', `/api/v1/contracts/${c.contract.id}/seats`, { userId: sam.id });
  await sim.control('POST', '/_sim/tenants', { provider: 'google', domain: DOMAIN });
  await sim.control('POST', '/_sim/mailboxes', { provider: 'google', address: RITA });
  // Rita connects through the consent page (send included at "Send & view"); Sam holds a read-only grant.
  await connectMailbox(api, { seatId: c.seat.id, userId: c.recruiter.id, token: c.contractToken, kind: 'email', address: RITA });
  await connectMailbox(api, { seatId: c.seat.id, userId: c.recruiter.id, token: c.contractToken, kind: 'calendar', address: RITA });
  await insertGrant(api, { seatId: samSeat.id, contractId: c.contract.id, kind: 'email', provider: 'google', scopes: ['https://www.googleapis.com/auth/gmail.readonly'], address: SAM });

  // Carla's email is in Rita's mailbox at the provider, so that a reply threads there.
  inbound = await sim.control('POST', `/_sim/mailboxes/${encodeURIComponent(RITA)}/messages`, { from: `Carla Candidate <${CARLA}>`, to: RITA, subject: SUBJECT, text: 'Hi Rita, when can we talk?' });
  const now = new Date(api.clock.now().getTime() + 60_000);
  const ago = (minutes: number) => new Date(now.getTime() - minutes * 60_000);
  const ritaMailbox = await loadSeatMailbox(api.ctx.db, c.seat.id);
  const decisions = await ingest(
    ritaMailbox,
    [
      { id: inbound.id, thread: inbound.threadId, messageId: inbound.messageId, from: `Carla Candidate <${CARLA}>`, to: RITA, subject: SUBJECT, text: 'Hi Rita,\nwhen can we talk?\nCarla', html: '<p>Hi Rita,</p><p>when can we <b>talk</b>?</p><p>Carla</p>', date: ago(60) },
      { id: 'hostile-1', thread: 'hostile-thread', from: CARLA, to: RITA, subject: 'My portfolio', text: 'Please find my portfolio below.', html: HOSTILE_HTML, date: ago(120) },
      { id: 'spam-1', from: CARLA, to: RITA, subject: 'Filtered', text: 'In spam', date: ago(30), isSpam: true },
    ],
    now,
  );
  expect(decisions.map((d) => d.ingested)).toEqual([true, true, false]);
  // Sam's own private conversation with Carla: Rita must never see it.
  await ingest(await loadSeatMailbox(api.ctx.db, samSeat.id), [{ id: 'sam-1', from: CARLA, to: SAM, subject: 'Coffee with Sam', text: 'See you at 3', date: ago(90) }], now);
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await product?.close();
  await sim?.close();
});



/** Signed in once the recruiter's landing page has rendered. */
async function signInToSettings(page: Page, email: string) {
  await signIn(page, product.url, email);
  await page.getByRole('heading', { name: 'My email & calendar' }).waitFor();
}

describe('candidate email in the browser', () => {
  it('pipeline preview; the profile with hostile HTML inert; share; why-not-here; reply in thread', async () => {
    const { context, page, problems } = await openPage(browser, { acceptDownloads: true });
    await signInToSettings(page, RITA);

    // Screen 4: the pipeline, with the preview on hover and on keyboard focus.
    await page.getByRole('navigation', { name: 'Candidates' }).getByRole('link', { name: 'Pipeline' }).click();
    await page.getByRole('heading', { name: 'Pipeline', level: 1 }).waitFor();
    const project = page.getByRole('region', { name: 'Backend engineer' });
    const messagesLink = project.getByRole('link', { name: '2 messages' });
    await messagesLink.waitFor();
    const tip = project.getByTestId('message-preview');
    expect(await tip.isVisible()).toBe(false);
    await messagesLink.hover();
    await tip.waitFor();
    expect(await tip.textContent()).toContain(SUBJECT);
    expect(await tip.textContent()).toContain('when can we talk?');
    await screenshot(page, 'pipeline-preview', { fullPage: false });
    await page.mouse.move(0, 0);
    await tip.waitFor({ state: 'hidden' });
    await messagesLink.focus();
    await tip.waitFor();
    // The preview describes the link for screen readers, and Escape hides it.
    expect(await messagesLink.getAttribute('aria-describedby')).toBe(await tip.getAttribute('id'));
    await page.keyboard.press('Escape');
    await tip.waitFor({ state: 'hidden' });
    // Search results carry the same preview.
    await page.getByLabel('Search the talent pool').fill('carla');
    const results = page.getByRole('region', { name: /Search results/ });
    await results.getByRole('link', { name: '2 messages' }).hover();
    await expect.poll(() => results.getByTestId('message-preview').textContent()).toContain(SUBJECT);
    await results.getByRole('link', { name: 'Carla Candidate' }).click();

    // Screen 5: the profile's threads, newest first (the newest open); the hostile HTML is shown in a sandboxed frame
    // (no scripts; same origin only so that the page can fit the frame to its content) and nothing runs.
    await page.getByRole('heading', { name: 'Carla Candidate', level: 1 }).waitFor();
    const threads = page.getByTestId('thread');
    await expect.poll(() => threads.count()).toBe(2);
    expect(await threads.getByRole('heading', { level: 3 }).allTextContents()).toEqual([SUBJECT, 'My portfolio']);
    expect(await page.getByText('Coffee with Sam').count()).toBe(0);
    await page.getByRole('button', { name: 'My portfolio' }).click();
    const frames = page.locator('iframe.message-frame');
    await expect.poll(() => frames.count()).toBe(2);
    for (const frame of await frames.all()) expect(await frame.getAttribute('sandbox')).toBe('allow-same-origin');
    const hostile = page.frameLocator('iframe[title^="Message from carla@mail.example"]');
    await hostile.getByText('Please find my portfolio below.').waitFor();
    expect(await hostile.locator('script, iframe, svg, form, [onerror], [onload]').count()).toBe(0);
    expect(await hostile.getByText('my site').getAttribute('href')).toBeNull();
    expect(await page.evaluate(() => (window as unknown as { __pwned?: unknown }).__pwned)).toBeUndefined();
    expect(await page.title()).toBe('Carla Candidate · Messages · recruiter-sync');
    const formatted = page.frameLocator(`iframe[title^="Message from Carla Candidate"]`);
    expect(await formatted.locator('b').textContent()).toBe('talk');

    // The owner shares the thread with the company.
    const thread = threads.filter({ hasText: SUBJECT });
    expect(await thread.getByText('Private', { exact: true }).count()).toBe(2);
    await thread.getByRole('button', { name: 'Share thread with the company' }).click();
    await thread.getByRole('button', { name: 'Make thread private' }).waitFor();
    expect(await thread.getByText('Shared with the company', { exact: true }).count()).toBe(2);
    await screenshot(page, 'candidate-messages');

    // "Why isn't an email here?": the decision log for the address, with each rule in plain words.
    const why = page.getByTestId('why-not-here');
    expect(await why.getByLabel('Email address').inputValue()).toBe(CARLA);
    await why.getByRole('button', { name: 'Check' }).click();
    const decisions = why.getByRole('list', { name: `Sync decisions for ${CARLA}, newest first` });
    await expect.poll(() => decisions.getByRole('listitem').count()).toBe(3);
    const spam = decisions.getByRole('listitem').first();
    expect(await spam.textContent()).toContain('Not synced');
    // The rule by its meaning, never by its id.
    expect(await spam.innerText()).toContain('Spam and drafts');
    expect(await spam.innerText()).not.toMatch(/\bR-\d{2}\b/);
    expect(await decisions.getByText('Synced', { exact: true }).count()).toBe(2);
    await why.scrollIntoViewIfNeeded();
    await screenshot(page, 'candidate-why-not-here', { fullPage: false });

    // Screen 6: reply in the thread; the provider's Sent folder has it, threaded.
    const compose = page.getByTestId('compose');
    await thread.getByRole('button', { name: 'Reply', exact: true }).click();
    await compose.getByTestId('reply-to').waitFor();
    expect(await compose.getByLabel('To').inputValue()).toBe(CARLA);
    expect(await compose.getByLabel('Subject').inputValue()).toBe(SUBJECT);
    // The focus is in the message field, ready to type; Send says why it waits.
    await expect.poll(() => page.evaluate(() => document.activeElement?.tagName)).toBe('TEXTAREA');
    expect(await compose.getByRole('button', { name: 'Send' }).isDisabled()).toBe(true);
    expect(await compose.getByText('Write a message.').isVisible()).toBe(true);
    await page.keyboard.type('Hi Carla, tomorrow at 10 works for me.');
    await screenshot(page, 'candidate-compose-reply', { fullPage: false });
    await compose.getByRole('button', { name: 'Send' }).click();
    await compose.getByText(`Sent to ${CARLA}: “Re: ${SUBJECT}”. It is private to you until you share it.`).waitFor();
    const sent = (await sim.control('GET', `/_sim/mailboxes/${encodeURIComponent(RITA)}/sent`)) as Array<{ subject: string; threadId: string; inReplyTo: string | null; text?: string }>;
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({ subject: `Re: ${SUBJECT}`, threadId: inbound.threadId });
    expect(sent[0]!.inReplyTo?.replace(/[<>]/g, '')).toBe(inbound.messageId.replace(/[<>]/g, ''));
    // Oldest first, as a mail client reads a conversation: the reply is the latest, open, at the end.
    await expect.poll(() => thread.getByTestId('message').count()).toBe(2);
    expect(await thread.getByTestId('message').last().textContent()).toContain('Sent');
    expect(await thread.getByTestId('message').last().textContent()).toContain('tomorrow at 10 works');

    // A refusal by the provider is shown with its fix, and the draft is kept to send again.
    await sim.control('POST', '/_sim/faults', { provider: 'google', match: { method: 'POST', path: 'messages/send' }, fault: 'http_429', count: 1, retryAfterSeconds: 42 });
    await compose.getByLabel('Subject').fill('One more thing');
    await compose.getByLabel('Message', { exact: true }).fill('Could you also send your CV?');
    await compose.getByRole('button', { name: 'Send' }).click();
    const refusal = compose.getByRole('alert');
    await expect.poll(() => refusal.textContent()).toContain('How to fix it: Wait a few minutes, then send again. Your draft is kept.');
    expect(await compose.getByLabel('Message', { exact: true }).inputValue()).toBe('Could you also send your CV?');
    expect(await sim.control('GET', `/_sim/mailboxes/${encodeURIComponent(RITA)}/sent`)).toHaveLength(1);

    expect(problems).toEqual([]);
    await context.close();
  }, 60_000);

  it('keeps even unsanitised HTML inert: the sandboxed frame runs no script of a body the sanitiser would have cleaned', async () => {
    // Written to the store directly, as if the server-side sanitiser had missed everything (defence in depth).
    const c = company;
    const hugo = await c.json('POST', `/api/v1/contracts/${c.contract.id}/candidates`, { name: 'Hugo Hostile', emails: ['hugo@mail.example'] });
    const { messageId } = await insertMessage(product.api, { contractId: c.contract.id, seatId: c.seat.id, ownerUserId: c.recruiter.id, candidateId: hugo.id, subject: 'Raw payload' });
    await product.api.ctx.db.updateTable('mail_messages').set({ body_html: `<p>Raw payload body</p>${HOSTILE_HTML}<img src="/nowhere.png" onerror="window.top.__pwned='raw-onerror'">` }).where('id', '=', messageId).execute();
    const { context, page, problems } = await openPage(browser, { acceptDownloads: true });
    await signInToSettings(page, RITA);
    await page.goto(`${product.url}/candidates/${hugo.id}`);
    const frame = page.frameLocator('iframe.message-frame');
    await frame.getByText('Raw payload body').waitFor();
    // The payloads are in the frame's document, and none of them ran: scripts are blocked by the sandbox.
    expect(await frame.locator('script').count()).toBeGreaterThan(0);
    await expect.poll(() => problems.length).toBeGreaterThan(0);
    expect(await page.evaluate(() => (window as unknown as { __pwned?: unknown }).__pwned)).toBeUndefined();
    expect(await page.title()).toBe('Hugo Hostile · Messages · recruiter-sync');
    // The only complaints are Chromium's notes that the sandbox blocked script.
    for (const problem of problems) expect(problem).toMatch(/Blocked script execution in 'about:srcdoc' because the document's frame is sandboxed/);
    await context.close();
  });

  it('schedules a screening with Google Meet from the profile (screen 7)', async () => {
    const { context, page, problems } = await openPage(browser, { acceptDownloads: true });
    await signInToSettings(page, RITA);
    await page.goto(`${product.url}/candidates/${company.candidate.id}`);
    // Keyboard: the arrow moves to the next tab; Meet is the conferencing of a Google company.
    await page.getByRole('tab', { name: 'Messages' }).focus();
    await page.keyboard.press('ArrowRight');
    const schedule = page.getByTestId('schedule');
    await schedule.waitFor();
    expect(await page.getByRole('tab', { name: 'Schedule screening' }).getAttribute('aria-selected')).toBe('true');
    expect(await schedule.getByRole('radio', { name: 'Google Meet' }).isChecked()).toBe(true);
    expect(await schedule.getByRole('radio', { name: 'Microsoft Teams' }).count()).toBe(0);
    await schedule.getByRole('button', { name: 'Schedule screening' }).click();
    await schedule.getByRole('status').or(schedule.getByRole('alert')).first().waitFor();
    expect(await schedule.getByRole('alert').count(), await schedule.textContent() ?? '').toBe(0);
    expect(await schedule.getByTestId('join-url').textContent()).toMatch(/^https:\/\/meet\.google\.com\//);
    // The event is in Rita's calendar at the provider, inviting Carla, with that same link.
    const events = (await sim.control('GET', '/_sim/google/calendar-events')) as Array<{ address: string; event: { attendees?: Array<{ email: string }>; hangoutLink?: string; summary?: string } }>;
    const mine = events.filter((e) => e.address === RITA);
    expect(mine).toHaveLength(1);
    expect(mine[0]!.event.attendees?.map((a) => a.email)).toEqual([CARLA]);
    expect(mine[0]!.event.hangoutLink).toBe(await schedule.getByTestId('join-url').textContent());
    expect(mine[0]!.event.summary).toBe('Screening call with Carla Candidate');
    await screenshot(page, 'candidate-schedule-screening');

    expect(problems).toEqual([]);
    await context.close();
  });

  it('refuses impossible times with a clear message, resets the form after scheduling, lists, reschedules and cancels screenings', async () => {
    const { context, page, problems } = await openPage(browser);
    await signInToSettings(page, RITA);
    await page.goto(`${product.url}/candidates/${company.candidate.id}`);
    await page.getByRole('tab', { name: 'Schedule screening' }).click();
    const schedule = page.getByTestId('schedule');
    const button = schedule.getByRole('button', { name: 'Schedule screening' });
    const startField = schedule.getByLabel('Starts (your time)');
    const endField = schedule.getByLabel('Ends (your time)');
    const local = (d: Date) => new Date(d.getTime() - d.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
    const day = new Date(Date.now() + 3 * 86_400_000);
    day.setHours(9, 0, 0, 0);
    const at = (hours: number) => local(new Date(day.getTime() + hours * 3_600_000));

    await startField.fill(local(new Date(Date.now() - 86_400_000)));
    await schedule.getByText('The start is in the past. Choose a time from now on.').first().waitFor();
    expect(await button.isDisabled()).toBe(true);
    await startField.fill(at(0));
    await endField.fill(at(-1));
    await schedule.getByText('The end must be after the start.').first().waitFor();
    expect(await button.isDisabled()).toBe(true);
    await endField.fill(at(11));
    await schedule.getByText('A screening can last at most 10 hours. Check the end time.').first().waitFor();
    expect(await button.isDisabled()).toBe(true);

    await schedule.getByLabel('Title').fill('Second round');
    await endField.fill(at(1));
    await button.click();
    await schedule.getByText(/The screening is in your calendar/).waitFor();
    // The form starts afresh for the next one.
    expect(await schedule.getByLabel('Title').inputValue()).toBe('Screening call with Carla Candidate');
    expect(await startField.inputValue()).not.toBe(at(0));
    // Listed with its time, link and who scheduled it.
    const row = schedule.getByTestId('screening').filter({ hasText: 'Second round' });
    await row.waitFor();
    expect(await row.textContent()).toMatch(/meet\.google\.com\/.*Scheduled by Rita/);
    await screenshot(page, 'candidate-screenings');

    // Reschedule: the provider moves the event and tells Carla.
    await row.getByRole('button', { name: 'Reschedule' }).click();
    await row.getByLabel('New start (your time)').fill(at(24));
    await row.getByLabel('New end (your time)').fill(at(24.5));
    await row.getByRole('button', { name: 'Move and notify the candidate' }).click();
    await row.getByRole('button', { name: 'Reschedule' }).waitFor();
    const events = async () => ((await sim.control('GET', '/_sim/google/calendar-events')) as Array<{ address: string; sendUpdates: string; event: { summary?: string; status: string; start: { dateTime: string } } }>).filter((e) => e.event.summary === 'Second round');
    expect(Date.parse((await events())[0]!.event.start.dateTime)).toBe(new Date(at(24)).getTime());

    // Cancel, after a confirmation: cancelled at the provider with the attendees notified, gone from the list.
    await row.getByRole('button', { name: 'Cancel…' }).click();
    await row.getByText(/the candidate receives the cancellation/).waitFor();
    await screenshot(page, 'candidate-screening-cancel');
    await row.getByRole('button', { name: 'Cancel the screening' }).click();
    await row.waitFor({ state: 'detached' });
    expect(await events()).toEqual([expect.objectContaining({ sendUpdates: 'all', event: expect.objectContaining({ status: 'cancelled' }) })]);
    expect(problems).toEqual([]);
    await context.close();
  });

  it('downloads the export of my messages (screen 8)', async () => {
    const { context, page, problems } = await openPage(browser, { acceptDownloads: true });
    await signInToSettings(page, RITA);
    await page.getByRole('link', { name: 'My email & calendar' }).click();
    const exportCard = page.getByTestId('export-card');
    const download = page.waitForEvent('download');
    await exportCard.getByRole('button', { name: 'Download my messages' }).click();
    const file = await download;
    expect(file.suggestedFilename()).toBe(`recruiter-sync-export-${company.seat.id}.zip`);
    // a real .zip — messages.json plus one .eml per message — and the card says so.
    const files = unzip(fs.readFileSync((await file.path())!));
    const archive = JSON.parse(files.get('messages.json')!.toString('utf8'));
    expect(archive.format).toBe('recruiter-sync-export/2');
    // Rita's seat's messages (synced, sent, and the raw one stored by the test above); never Sam's.
    expect(archive.messages.map((m: { subject: string }) => m.subject).sort()).toEqual(['My portfolio', 'Raw payload', `Re: ${SUBJECT}`, SUBJECT].sort());
    expect([...files.keys()].filter((name) => name.endsWith('.eml'))).toHaveLength(4);
    expect(archive.messages.every((m: { emlFile: string; subject: string }) => files.get(m.emlFile)!.toString('utf8').includes('Subject:'))).toBe(true);
    await exportCard.getByText(`Downloaded 4 messages as recruiter-sync-export-${company.seat.id}.zip.`).waitFor();
    await exportCard.getByText(/one \.eml\s+file per message/).waitFor();
    await exportCard.getByText(/Attachments are listed by name and size but not included/).waitFor();
    await exportCard.scrollIntoViewIfNeeded();
    await screenshot(page, 'recruiter-export', { fullPage: false });
    expect(problems).toEqual([]);
    await context.close();
  });

  it('shows a colleague only what was shared, and says why each control is off', async () => {
    // Sam sees the shared thread only, cannot change it, cannot reply from Rita's mailbox, and cannot send
    // (his grant lacks the send permission).
    const second = await openPage(browser, { acceptDownloads: true });
    await signInToSettings(second.page, SAM);
    await second.page.goto(`${product.url}/candidates/${company.candidate.id}`);
    const samThreads = second.page.getByTestId('thread');
    await expect.poll(() => samThreads.count()).toBe(2);
    expect(await samThreads.getByRole('heading', { level: 3 }).allTextContents()).toEqual([SUBJECT, 'Coffee with Sam']);
    const shared = samThreads.filter({ hasText: SUBJECT });
    // Rita's reply stays private to her; her hostile thread too.
    expect(await shared.getByTestId('message').count()).toBe(1);
    expect(await second.page.getByText('My portfolio').count()).toBe(0);
    expect(await shared.getByText('Shared by a colleague: only they can make it private.').isVisible()).toBe(true);
    expect(await shared.getByRole('button', { name: /Share|private/ }).count()).toBe(0);
    const reply = shared.getByRole('button', { name: 'Reply' });
    expect(await reply.isDisabled()).toBe(true);
    expect(await shared.getByText("A reply goes from the mailbox that holds the conversation, and this one is a colleague's.").isVisible()).toBe(true);
    const samCompose = second.page.getByTestId('compose');
    const send = samCompose.getByRole('button', { name: 'Send' });
    expect(await send.isDisabled()).toBe(true);
    const reason = 'Your mailbox connection does not include the permission to send. Reconnect it in My email & calendar to grant it.';
    await expect.poll(() => samCompose.getByText(reason).count()).toBe(2);
    expect(await send.getAttribute('aria-describedby')).toBeTruthy();
    await screenshot(second.page, 'candidate-colleague-view');
    // Small screens: the profile reflows into one column without a horizontal page scroll.
    await second.page.setViewportSize({ width: 390, height: 844 });
    expect(await second.page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth)).toBe(true);
    await screenshot(second.page, 'candidate-messages-mobile', { fullPage: false });
    await second.page.setViewportSize({ width: 1280, height: 900 });
    // Without a connected calendar, scheduling says why it is off.
    await second.page.getByRole('tab', { name: 'Schedule screening' }).click();
    const schedule = second.page.getByTestId('schedule');
    expect(await schedule.getByRole('button', { name: 'Schedule screening' }).isDisabled()).toBe(true);
    await expect.poll(() => schedule.getByText('Your calendar is not connected. Connect it in My email & calendar.').count()).toBe(2);
    expect(second.problems).toEqual([]);
    await second.context.close();
  }, 60_000);
  it('a new address is added only once the user confirms it and can be removed again; an enormous subject is counted and refused, not cut', async () => {
    const { context, page, problems } = await openPage(browser);
    await signInToSettings(page, RITA);
    await page.goto(`${product.url}/candidates/${company.candidate.id}`);
    const compose = page.getByTestId('compose');
    const send = compose.getByRole('button', { name: 'Send' });
    const wrong = 'carla.typo@mail.example';
    // The host system's address is not Rita's to remove: no Remove beside it.
    await page.getByTestId('candidate-emails').getByText(CARLA).waitFor();
    expect(await page.getByRole('button', { name: `Remove ${CARLA} from the profile` }).count()).toBe(0);
    await compose.getByLabel('To').fill(wrong);
    const confirm = compose.getByTestId('confirm-new-address');
    await confirm.getByText(`Add ${wrong} to Carla Candidate’s profile`).waitFor();
    await compose.getByLabel('Message').fill('Hello again');
    // A pasted 1,000-character subject is kept whole, counted, and blocks sending.
    await compose.getByLabel('Subject').fill('s'.repeat(1000));
    expect((await compose.getByLabel('Subject').inputValue()).length).toBe(1000);
    await compose.getByTestId('subject-counter').getByText('The subject is 2 characters too long (at most 998).').waitFor();
    expect(await send.isDisabled()).toBe(true);
    await compose.getByLabel('Subject').fill('Checking your address');
    await compose.getByTestId('subject-counter').getByText('21 / 998 characters').waitFor();
    // Without the confirmation Send stays off, saying why.
    expect(await send.isDisabled()).toBe(true);
    await compose.getByText(`Confirm that ${wrong} should be added to Carla Candidate’s profile.`).first().waitFor();
    await screenshot(page, 'candidate-compose-new-address');
    await confirm.getByRole('checkbox').check();
    await send.click();
    await compose.getByText(/^Sent to carla\.typo@mail\.example/).waitFor();
    const emails = page.getByTestId('candidate-emails');
    await emails.getByText(wrong).waitFor();

    // Added by mistake: Rita removes it again, and the profile says email with it is no longer synced.
    await emails.getByRole('button', { name: `Remove ${wrong} from the profile` }).click();
    await screenshot(page, 'candidate-remove-address');
    await emails.getByRole('button', { name: `Remove ${wrong}` }).click();
    await page.getByText(`${wrong} was removed from the profile. Email with it is no longer synced.`).waitFor();
    await expect.poll(() => emails.getByText(wrong).count()).toBe(0);
    expect((await product.api.call('GET', `/api/v1/candidates/${company.candidate.id}`, { token: company.contractToken })).json().emails).toEqual([CARLA]);
    expect(problems).toEqual([]);
    await context.close();
  });
});
