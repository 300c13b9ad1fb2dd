import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import zlib from 'node:zlib';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSeatMailbox } from '../../src/sync/ingest/candidates.ts';
import { decideBatch } from '../../src/sync/ingest/decide.ts';
import { ingestBatch } from '../../src/sync/ingest/store.ts';
import type { SeatMailbox } from '../../src/sync/ingest/types.ts';
import { connectMailbox } from '../helpers/connect.ts';
import { createCompany, insertGrant } from '../helpers/fixtures.ts';
import { startTestSimulators, type TestSimulators } from '../helpers/simulators.ts';
import { decideContext, mail, type MailSpec } from '../sync/ingest/setup.ts';
import { abandoned, launchBrowser, openPage, PASSWORD, prepareBrowserTests, screenshot, signIn, startProduct, type Product } from './harness.ts';

/**
 * The Messages tab as an email reader: collapsed conversations and messages, folded quotes, frames that fit their
 * content, remote images blocked until asked, attachments behind the message's own visibility, one menu per message,
 * the keyboard, the sender's name on mail sent from the product, and a candidate with 500 messages.
 */
const DOMAIN = 'reader.test';
const RITA = `rita@${DOMAIN}`;
const SAM = `sam@${DOMAIN}`;
const CARLA = 'carla@mail.example';
const SUBJECT = 'Backend role: next steps';
const CV = Buffer.from('%PDF-1.4\n% Carla Candidate, curriculum vitae\n%%EOF\n');
/** A 1×1 PNG, served by the sender's image server (a loopback server here). */
const PNG = Buffer.from('89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d4944415478da63f8cfc0f01f0005000201a7e0a1d40000000049454e44ae426082', 'hex');
/** A 200×48 banner in the product's indigo: the visible image of the journey's screenshots. */
function banner(width = 200, height = 48): Buffer {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (bytes: Buffer) => (bytes.reduce((c, b) => crcTable[(c ^ b) & 0xff]! ^ (c >>> 8), 0xffffffff) ^ 0xffffffff) >>> 0;
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const out = Buffer.alloc(12 + data.length);
    out.writeUInt32BE(data.length, 0);
    body.copy(out, 4);
    out.writeUInt32BE(crc(body), 8 + data.length);
    return out;
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 2, 0, 0, 0], 8);
  const rows = Buffer.concat(Array.from({ length: height }, () => Buffer.concat([Buffer.from([0]), Buffer.from(Array.from({ length: width }, () => [0x43, 0x38, 0xca]).flat())])));
  return Buffer.concat([Buffer.from('89504e470d0a1a0a', 'hex'), chunk('IHDR', header), chunk('IDAT', zlib.deflateSync(rows)), chunk('IEND', Buffer.alloc(0))]);
}
const BANNER = banner();
let images: http.Server;
let imageBase: string;
const imageRequests: Array<{ url: string; headers: http.IncomingHttpHeaders }> = [];
const tracker = () => `${imageBase}/open.png?id=42`;
const logo = () => `${imageBase}/logo.png`;

let browser: Browser;
let product: Product;
let sim: TestSimulators;
let company: Awaited<ReturnType<typeof createCompany>>;
let many: { id: string };
let privateAttachmentUrl: string;

async function ingest(mailbox: SeatMailbox, specs: MailSpec[], now: Date) {
  const mails = await Promise.all(specs.map(mail));
  const decisions = await decideBatch(product.api.ctx.db, mailbox.seatId, mails.map((m) => m.facts), await decideContext(product.api, mailbox, now));
  expect(decisions.map((d) => d.ingested)).toEqual(specs.map(() => true));
  await ingestBatch(product.api.ctx.db, mailbox, mails.map((m, i) => ({ facts: m.facts, decision: decisions[i]!, raw: m.raw })), now);
}

beforeAll(async () => {
  prepareBrowserTests();
  sim = await startTestSimulators();
  images = http.createServer((req, res) => {
    imageRequests.push({ url: req.url ?? '', headers: req.headers });
    res.writeHead(200, { 'content-type': 'image/png', 'set-cookie': 'seen=1' }).end(req.url === '/logo.png' ? BANNER : PNG);
  });
  await new Promise<void>((resolve) => images.listen(0, '127.0.0.1', resolve));
  const imagePort = (images.address() as AddressInfo).port;
  imageBase = `http://127.0.0.1:${imagePort}`;
  // The sender's image server is on loopback here: only a test may name it, and only this port.
  [browser, product] = await Promise.all([launchBrowser(), startProduct({ simulatorUrl: sim.url, imageProxy: { allowLoopback: [`127.0.0.1:${imagePort}`] } })]);
  const api = product.api;
  company = await createCompany(api, 'Reader Recruiting', DOMAIN);
  const c = company;
  await c.json('PUT', `/api/v1/contracts/${c.contract.id}/settings`, { emailProvider: 'google', emailAccess: 'send_and_view', calendarEnabled: false });
  const sam = await c.json('POST', `/api/v1/contracts/${c.contract.id}/users`, { email: SAM, name: 'Sam Sourcer', role: 'recruiter', password: PASSWORD });
  const samSeat = await c.json('POST', `/api/v1/contracts/${c.contract.id}/seats`, { userId: sam.id });
  await insertGrant(api, { seatId: samSeat.id, contractId: c.contract.id, kind: 'email', provider: 'google', scopes: ['https://www.googleapis.com/auth/gmail.readonly'], address: SAM });
  await sim.control('POST', '/_sim/tenants', { provider: 'google', domain: DOMAIN });
  await sim.control('POST', '/_sim/mailboxes', { provider: 'google', address: RITA });
  await connectMailbox(api, { seatId: c.seat.id, userId: c.recruiter.id, token: c.contractToken, kind: 'email', address: RITA });

  const now = new Date(api.clock.now().getTime() + 60_000);
  const ago = (minutes: number) => new Date(now.getTime() - minutes * 60_000);
  // Carla's latest email (with her CV) is in Rita's mailbox at the provider, where a download reads it from; the
  // conversation is that provider thread, so a reply threads there.
  const latest: MailSpec = {
    id: 'pending',
    messageId: '<cv@mail.example>',
    from: `Carla Candidate <${CARLA}>`,
    to: RITA,
    subject: `Re: ${SUBJECT}`,
    text: 'Here is my CV, attached.\n\nOn Mon, 2 Nov 2026 at 10:00, Rita Recruiter <rita@reader.test> wrote:\n> Thanks Carla! Could you send your CV?',
    html:
      '<div dir="ltr"><p>Here is my CV, attached.</p></div><div class="gmail_quote"><div dir="ltr" class="gmail_attr">On Mon, 2 Nov 2026 at 10:00, Rita Recruiter &lt;rita@reader.test&gt; wrote:<br></div>' +
      '<blockquote class="gmail_quote"><p>Thanks Carla! Could you send your CV?</p><p>Rita</p></blockquote></div>',
    date: ago(60),
    attachments: [{ filename: 'Carla CV.pdf', content: CV, contentType: 'application/pdf' }],
  };
  const delivered = await sim.control('POST', `/_sim/mailboxes/${encodeURIComponent(RITA)}/messages`, { raw: (await mail(latest)).raw.toString('base64') });
  const mailbox = await loadSeatMailbox(api.ctx.db, c.seat.id);
  await ingest(
    mailbox,
    [
      { id: 'first', thread: delivered.threadId, from: `Carla Candidate <${CARLA}>`, to: RITA, subject: SUBJECT, text: 'Hi Rita, I saw the backend role and would love to apply.', html: `<p>Hi Rita, I saw the backend role and would love to apply.</p><p><img src="${logo()}" alt="Carla's portfolio" width="200" height="48"></p><img src="${tracker()}" width="1" height="1" alt="">`, date: ago(300) },
      { id: 'ask', thread: delivered.threadId, from: `Rita Recruiter <${RITA}>`, to: CARLA, subject: `Re: ${SUBJECT}`, isSent: true, text: 'Thanks Carla! Could you send your CV?\n\nOn Mon, 2 Nov 2026 at 09:00, Carla Candidate <carla@mail.example> wrote:\n> Hi Rita, I saw the backend role and would love to apply.', date: ago(200) },
      { ...latest, id: delivered.id, thread: delivered.threadId },
      {
        id: 'portfolio', thread: 'portfolio', from: `Carla Candidate <${CARLA}>`, to: RITA, subject: 'Portfolio', date: ago(600),
        text: 'Please see my portfolio at carla.example.\n\n________________________________\nFrom: Rita Recruiter <rita@reader.test>\nSent: Monday, November 2, 2026 08:00\nTo: Carla Candidate\nSubject: Portfolio\n\nDo you have a portfolio?',
      },
      { id: 'private-cv', thread: 'private', from: `Carla Candidate <${CARLA}>`, to: RITA, subject: 'Salary expectations', text: 'Private to Rita.', date: ago(900), attachments: [{ filename: 'payslip.pdf', content: CV, contentType: 'application/pdf' }] },
    ],
    now,
  );
  const privateMessage = await api.ctx.db.selectFrom('mail_messages').innerJoin('mail_attachments', 'mail_attachments.message_id', 'mail_messages.id').select(['mail_messages.id as messageId', 'mail_attachments.id as attachmentId']).where('provider_message_id', '=', 'private-cv').executeTakeFirstOrThrow();
  privateAttachmentUrl = `/api/v1/messages/${privateMessage.messageId}/attachments/${privateMessage.attachmentId}`;
  // Everything but the salary thread is shared, so that Sam reads the same conversations.
  for (const id of ['first', 'ask', delivered.id, 'portfolio']) await api.ctx.db.updateTable('mail_messages').set({ visibility: 'contract' }).where('provider_message_id', '=', id).execute();

  // A candidate with 500 messages: one conversation of 480 and twenty of one.
  many = await c.json('POST', `/api/v1/contracts/${c.contract.id}/candidates`, { name: 'Mona Many', emails: ['mona@mail.example'] });
  const threads = Array.from({ length: 21 }, (_, t) => ({ id: crypto.randomUUID(), size: t === 0 ? 480 : 1, last: ago(t * 1000 + 10) }));
  await api.ctx.db
    .insertInto('mail_threads')
    .values(threads.map((t, i) => ({ id: t.id, contract_id: c.contract.id, owner_seat_id: c.seat.id, provider: 'google' as const, provider_thread_id: `many-${i}`, candidate_id: many.id, counterpart: 'mona@mail.example', subject: i === 0 ? 'A very long conversation' : `Conversation ${i}`, last_activity_at: t.last, initiated_through_product: false, created_at: now })))
    .execute();
  const rows = threads.flatMap((t, i) =>
    Array.from({ length: t.size }, (_, k) => {
      const id = crypto.randomUUID();
      return {
        id, contract_id: c.contract.id, owner_seat_id: c.seat.id, owner_user_id: c.recruiter.id, thread_id: t.id, candidate_id: many.id, provider_message_id: `many-${i}-${k}`, rfc_message_id: `<${id}@mail.example>`,
        in_reply_to: null, references_ids: [], direction: 'inbound' as const, from_address: 'mona@mail.example', from_name: 'Mona Many', to_addresses: JSON.stringify([{ address: RITA }]), cc_addresses: '[]',
        counterpart: 'mona@mail.example', subject: i === 0 ? 'A very long conversation' : `Conversation ${i}`, sent_at: new Date(t.last.getTime() - (t.size - 1 - k) * 60_000), snippet: `Message ${k + 1} of ${t.size}`,
        body_html: `<p>Message ${k + 1} of ${t.size}</p>`, body_text: `Message ${k + 1} of ${t.size}`, visibility: 'private' as const, origin: 'synced' as const, stored_at: now,
      };
    }),
  );
  for (let i = 0; i < rows.length; i += 100) await api.ctx.db.insertInto('mail_messages').values(rows.slice(i, i + 100)).execute();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await product?.close();
  await sim?.close();
  images?.closeAllConnections();
  await new Promise((resolve) => images?.close(resolve));
});

async function openProfile(page: Page, email: string, candidateId: string) {
  await signIn(page, product.url, email);
  await page.getByRole('heading', { name: 'My email & calendar' }).waitFor();
  await page.goto(`${product.url}/candidates/${candidateId}`);
}

/** The reader causes no complaint at all: no script error, no policy violation, no failed image. */
const unexpected = (problems: string[]) => problems;

describe('the Messages tab as an email reader', () => {
  it('lists conversations collapsed with the newest open, earlier messages as one-line summaries, one set of actions per thread and a menu per message', async () => {
    const { context, page, problems } = await openPage(browser, { acceptDownloads: true });
    await openProfile(page, RITA, company.candidate.id);
    const threads = page.getByTestId('thread');
    await expect.poll(() => threads.count()).toBe(3);
    expect(await threads.getByRole('heading', { level: 3 }).allTextContents()).toEqual([SUBJECT, 'Portfolio', 'Salary expectations']);
    const toggles = page.locator('.thread-toggle');
    expect(await toggles.evaluateAll((els) => els.map((e) => e.getAttribute('aria-expanded')))).toEqual(['true', 'false', 'false']);
    const thread = threads.first();
    const row = await thread.locator('.thread-summary').textContent();
    expect(row).toContain('Carla Candidate');
    expect(row).toContain('3 messages');
    expect(row).toContain('last activity');
    expect(await thread.locator('.thread-row').getByText('Shared with the company', { exact: true }).count()).toBe(1);
    // Oldest first; the two earlier ones collapsed to sender, first words and date; only the latest has a frame.
    const messages = thread.getByTestId('message');
    expect(await messages.count()).toBe(3);
    const summaries = thread.locator('.message-summary');
    expect(await summaries.count()).toBe(2);
    expect(await summaries.first().textContent()).toMatch(/^Carla CandidateHi Rita, I saw the backend role.*\d/);
    expect(await summaries.nth(1).getAttribute('aria-expanded')).toBe('false');
    expect(await page.locator('iframe.message-frame').count()).toBe(1);
    // One Reply and one Share for the whole thread, not one pair per message.
    expect(await thread.getByRole('button', { name: 'Reply', exact: true }).count()).toBe(1);
    expect(await thread.getByRole('button', { name: /^(Share|Make) (thread|message)/ }).count()).toBe(1);
    // The message's own actions are in its menu.
    const menuButton = thread.getByRole('button', { name: 'Actions for the message from Carla Candidate' });
    await menuButton.click();
    const menu = thread.getByRole('menu');
    expect(await menu.getByRole('menuitem').allTextContents()).toEqual(['Reply to this message', 'Make message private', 'Show plain text']);
    await expect.poll(() => page.evaluate(() => document.activeElement?.getAttribute('role'))).toBe('menuitem');
    await screenshot(page, 'reader-message-menu', { fullPage: false });
    await page.keyboard.press('Escape');
    await menu.waitFor({ state: 'detached' });
    expect(await menuButton.evaluate((el) => el === document.activeElement)).toBe(true);
    // A click opens an earlier message.
    await summaries.first().click();
    await expect.poll(() => page.locator('iframe.message-frame').count()).toBe(2);
    await screenshot(page, 'reader-thread');
    expect(unexpected(problems)).toEqual([]);
    await context.close();
  });

  it('folds quoted text behind "…" in HTML and plain text, and sizes each frame to its content', async () => {
    const { context, page, problems } = await openPage(browser);
    await openProfile(page, RITA, company.candidate.id);
    const frameElement = page.locator('iframe.message-frame').first();
    await frameElement.waitFor();
    expect(await frameElement.getAttribute('sandbox')).toBe('allow-same-origin');
    const frame = page.frameLocator('iframe.message-frame').first();
    await frame.getByText('Here is my CV, attached.').waitFor();
    const quote = frame.getByText('Thanks Carla! Could you send your CV?');
    expect(await quote.isVisible()).toBe(false);
    const fits = async () => {
      const outer = (await frameElement.boundingBox())!.height;
      const inner = await frameElement.evaluate((f: HTMLIFrameElement) => f.contentDocument!.documentElement.scrollHeight);
      return Math.abs(outer - inner) <= 3;
    };
    await expect.poll(fits).toBe(true);
    const before = (await frameElement.boundingBox())!.height;
    await frame.getByRole('button', { name: 'Show quoted text' }).or(frame.locator('summary')).first().click();
    await quote.waitFor();
    // The frame grew with the opened quote: no inner scrollbar.
    await expect.poll(async () => (await frameElement.boundingBox())!.height).toBeGreaterThan(before + 20);
    await expect.poll(fits).toBe(true);
    await screenshot(page, 'reader-quoted-open');

    // Plain text: Rita's question, with Carla's words quoted under "On … wrote:".
    const thread = page.getByTestId('thread').first();
    await thread.locator('.message-summary').nth(1).click();
    const ask = thread.getByTestId('message').nth(1);
    expect(await ask.locator('pre').first().textContent()).toBe('Thanks Carla! Could you send your CV?');
    expect(await ask.getByText('wrote:').count()).toBe(0);
    await ask.getByRole('button', { name: 'Show quoted text' }).click();
    await ask.getByText(/Carla Candidate <carla@mail.example> wrote:/).waitFor();
    // Outlook's "From: … Sent: …" block too.
    await page.getByRole('button', { name: 'Portfolio' }).click();
    const portfolio = page.getByTestId('thread').nth(1);
    await portfolio.getByText('Please see my portfolio at carla.example.').waitFor();
    expect(await portfolio.getByText('Do you have a portfolio?').count()).toBe(0);
    await portfolio.getByRole('button', { name: 'Show quoted text' }).click();
    await portfolio.getByText(/Do you have a portfolio\?/).waitFor();
    expect(unexpected(problems)).toEqual([]);
    await context.close();
  });

  it('holds remote images back until "Show images" is chosen for that message, then loads them through the product', async () => {
    const { context, page, problems } = await openPage(browser);
    const direct: string[] = [];
    const failed: string[] = [];
    page.on('request', (request) => {
      if (request.url().startsWith(imageBase)) direct.push(request.url());
    });
    // An image that did not load is a failure; an API call the app abandoned when a navigation replaced the page
    // (net::ERR_ABORTED, a loaded machine makes that likelier) is not.
    page.on('requestfailed', (request) => {
      if (request.resourceType() === 'image' || !abandoned(request)) failed.push(`${request.failure()?.errorText ?? 'failed'} ${request.url()}`);
    });
    page.on('response', (response) => {
      if (response.status() >= 400) failed.push(`${response.status()} ${response.url()}`);
    });
    const before = imageRequests.length;
    await openProfile(page, RITA, company.candidate.id);
    const thread = page.getByTestId('thread').first();
    await thread.locator('.message-summary').first().click();
    const first = thread.getByTestId('message').first();
    const notice = first.getByTestId('images-blocked');
    await notice.waitFor();
    expect(await notice.textContent()).toContain('2 remote images hidden');
    const frame = page.frameLocator(`iframe[title="Message from Carla Candidate <${CARLA}>"]`).first();
    await frame.getByText('would love to apply').waitFor();
    // Held back: the address waits in an attribute no browser loads; nobody asked the sender's server for it.
    expect(await frame.locator('img[src]').count()).toBe(0);
    expect(await frame.locator(`img[data-remote-src="${tracker()}"]`).count()).toBe(1);
    expect(await frame.locator(`img[data-remote-src="${logo()}"]`).count()).toBe(1);
    expect(imageRequests.length).toBe(before);
    await screenshot(page, 'reader-images-blocked', { fullPage: false });
    // Only this message's images are asked for, through the product's image proxy: the browser never reaches the
    // sender's server, which sees the product's request only (no cookie, no Referer of the reader).
    await notice.getByRole('button', { name: 'Show images' }).click();
    const shown = frame.locator('img[src^="/api/v1/messages/"]');
    await expect.poll(() => shown.count()).toBe(2);
    await expect.poll(() => shown.evaluateAll((all: HTMLImageElement[]) => all.map((img) => img.complete && img.naturalWidth))).toEqual([200, 1]);
    expect(await notice.textContent()).toContain('Remote images are shown for this message');
    expect(imageRequests.slice(before).map((r) => r.url).sort()).toEqual(['/logo.png', '/open.png?id=42']);
    const sent = imageRequests.at(-1)!.headers;
    expect([sent.cookie, sent.referer, sent['user-agent']]).toEqual([undefined, undefined, 'recruiter-sync-image-proxy']);
    expect(direct).toEqual([]);
    expect(failed).toEqual([]);
    await screenshot(page, 'reader-images-shown', { fullPage: false });
    expect(unexpected(problems)).toEqual([]);
    await context.close();
  });

  it('lists attachments with name, type and size, downloads them, and refuses them to a colleague who cannot see the message', async () => {
    const { context, page, problems } = await openPage(browser, { acceptDownloads: true });
    await openProfile(page, RITA, company.candidate.id);
    const latest = page.getByTestId('thread').first().getByTestId('message').last();
    const attachments = latest.getByRole('list', { name: 'Attachments' });
    await attachments.waitFor();
    expect(await attachments.textContent()).toBe(`Carla CV.pdfapplication/pdf · ${CV.byteLength} bytes`);
    const download = page.waitForEvent('download');
    await attachments.getByRole('link', { name: /Carla CV\.pdf/ }).click();
    const file = await download;
    expect(file.suggestedFilename()).toBe('Carla CV.pdf');
    expect(fs.readFileSync((await file.path())!).equals(CV)).toBe(true);
    expect(unexpected(problems)).toEqual([]);
    await context.close();

    const sam = await openPage(browser, { acceptDownloads: true });
    await openProfile(sam.page, SAM, company.candidate.id);
    await expect.poll(() => sam.page.getByTestId('thread').count()).toBe(2);
    expect(await sam.page.getByText('Salary expectations').count()).toBe(0);
    const refused = await sam.page.request.get(`${product.url}${privateAttachmentUrl}`);
    expect(refused.status()).toBe(404);
    expect(await refused.json()).toEqual({ error: { code: 'not_found', message: 'message not found' } });
    await sam.context.close();
  });

  it('moves with j/k and the arrows, opens with Enter, replies with r, with a visible focus; mail sent from the product shows the sender\'s name', async () => {
    const { context, page, problems } = await openPage(browser);
    await openProfile(page, RITA, company.candidate.id);
    const first = page.locator('.thread-toggle').first();
    await first.waitFor();
    await first.focus();
    const active = () => page.evaluate(() => document.activeElement?.textContent ?? '');
    await page.keyboard.press('j');
    expect(await active()).toMatch(/^Carla CandidateHi Rita, I saw/);
    // The focus is visible.
    expect(await page.evaluate(() => getComputedStyle(document.activeElement!).outlineStyle)).not.toBe('none');
    await page.keyboard.press('ArrowDown');
    expect(await active()).toMatch(/^Rita Recruiter/);
    await page.keyboard.press('k');
    expect(await active()).toMatch(/^Carla CandidateHi Rita, I saw/);
    await page.keyboard.press('Enter');
    await expect.poll(() => page.locator('iframe.message-frame').count()).toBe(2);
    // The opened message keeps the focus; up once more is the conversation, and r answers its latest message.
    expect(await active()).toMatch(/^ReceivedCarla Candidate/);
    await page.keyboard.press('ArrowUp');
    expect(await active()).toBe(SUBJECT);
    await page.keyboard.press('r');
    const compose = page.getByTestId('compose');
    await compose.getByTestId('reply-to').waitFor();
    await expect.poll(() => page.evaluate(() => document.activeElement?.tagName)).toBe('TEXTAREA');
    expect(await compose.getByLabel('Subject').inputValue()).toBe(`Re: ${SUBJECT}`);
    await page.keyboard.type('Thanks Carla, got it.');
    await compose.getByRole('button', { name: 'Send' }).click();
    await compose.getByText(/^Sent to /).waitFor();
    const thread = page.getByTestId('thread').first();
    await expect.poll(() => thread.getByTestId('message').count()).toBe(4);
    const sent = thread.getByTestId('message').last();
    expect(await sent.textContent()).toContain('sent from recruiter-sync');
    expect(await sent.locator('.message-from').textContent()).toBe(`Rita Recruiter <${RITA}>`);
    expect(unexpected(problems)).toEqual([]);
    await context.close();
  });

  it('renders a candidate with 500 messages quickly: a page of conversations, the latest messages of a long one', async () => {
    const { context, page, problems } = await openPage(browser);
    await signIn(page, product.url, RITA);
    await page.getByRole('heading', { name: 'My email & calendar' }).waitFor();
    const started = Date.now();
    await page.goto(`${product.url}/candidates/${many.id}`);
    await page.frameLocator('iframe.message-frame').getByText('Message 480 of 480').waitFor();
    const elapsed = Date.now() - started;
    expect(elapsed).toBeLessThan(10_000);
    expect(await page.getByTestId('thread').count()).toBe(20);
    const big = page.getByTestId('thread').first();
    // The first message, the 20 latest, and a way to the 459 between them.
    expect(await big.getByTestId('message').count()).toBe(21);
    expect(await page.locator('iframe.message-frame').count()).toBe(1);
    const earlier = big.getByRole('button', { name: '459 earlier messages — show 50 more' });
    await screenshot(page, 'reader-long-thread', { fullPage: false });
    await earlier.click();
    await expect.poll(() => big.getByTestId('message').count()).toBe(71);
    await page.getByRole('button', { name: 'Show 1 more conversation (1 not shown)' }).click();
    await expect.poll(() => page.getByTestId('thread').count()).toBe(21);
    expect(unexpected(problems)).toEqual([]);
    await context.close();
  });
});
