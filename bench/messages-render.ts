/**
 * The Messages tab in a browser: time to first render of a candidate with 500 stored messages, in headless
 * Chromium (the same browser and built UI as the browser tests). Measured from navigation to the profile until the
 * newest message's body is on screen: the API read, the React render of the conversation list (a page of 20
 * conversations, the newest open with its latest messages) and the sandboxed frame of the latest message.
 */
import { launchBrowser, openPage, prepareBrowserTests, signIn, startProduct } from '../test/browser/harness.ts';
import { createCompany } from '../test/helpers/fixtures.ts';
import { percentile, type BenchContext } from './world.ts';

const THREADS = 25;
const PER_THREAD = 20;

export async function benchMessagesRender({ full, report }: BenchContext): Promise<void> {
  prepareBrowserTests();
  const [browser, product] = await Promise.all([launchBrowser(), startProduct()]);
  try {
    const api = product.api;
    const c = await createCompany(api, 'Render bench', 'render.test');
    await c.json('PUT', `/api/v1/contracts/${c.contract.id}/settings`, { emailProvider: 'google', emailAccess: 'view' });
    const now = api.clock.now();
    const threads = Array.from({ length: THREADS }, (_, t) => ({ id: crypto.randomUUID(), last: new Date(now.getTime() - (t + 1) * 86_400_000) }));
    await api.ctx.db
      .insertInto('mail_threads')
      .values(threads.map((t, i) => ({ id: t.id, contract_id: c.contract.id, owner_seat_id: c.seat.id, provider: 'google' as const, provider_thread_id: `render-${i}`, candidate_id: c.candidate.id, counterpart: 'carla@mail.example', subject: `Conversation ${i + 1}`, last_activity_at: t.last, initiated_through_product: false, created_at: now })))
      .execute();
    const body = (k: number) => `Message ${k + 1}. ${'Thanks for the update, let us talk about the role and the next steps. '.repeat(6)}`;
    const rows = threads.flatMap((t, i) =>
      Array.from({ length: PER_THREAD }, (_, k) => {
        const id = crypto.randomUUID();
        const quoted = k > 0 ? `<div dir="ltr">On Mon, 2 Nov 2026 at 10:00, Rita Recruiter wrote:</div><blockquote><p>${body(k - 1)}</p></blockquote>` : '';
        return {
          id, contract_id: c.contract.id, owner_seat_id: c.seat.id, owner_user_id: c.recruiter.id, thread_id: t.id, candidate_id: c.candidate.id, provider_message_id: `render-${i}-${k}`, rfc_message_id: `<${id}@mail.example>`,
          in_reply_to: null, references_ids: [], direction: k % 2 === 0 ? ('inbound' as const) : ('outbound' as const), from_address: 'carla@mail.example', from_name: 'Carla Candidate',
          to_addresses: JSON.stringify([{ address: 'rita@render.test' }]), cc_addresses: '[]', counterpart: 'carla@mail.example', subject: `Conversation ${i + 1}`,
          sent_at: new Date(t.last.getTime() - (PER_THREAD - 1 - k) * 3_600_000), snippet: body(k).slice(0, 200), body_html: `<p>${body(k)}</p>${quoted}`, body_text: body(k),
          visibility: 'private' as const, origin: 'synced' as const, stored_at: now,
        };
      }),
    );
    for (let i = 0; i < rows.length; i += 100) await api.ctx.db.insertInto('mail_messages').values(rows.slice(i, i + 100)).execute();

    const { context, page } = await openPage(browser);
    await signIn(page, product.url, c.recruiter.email);
    await page.getByRole('heading', { name: 'My email & calendar' }).waitFor();
    const samples = full ? 20 : 5;
    const times: number[] = [];
    for (let i = 0; i < samples + 1; i++) {
      await page.goto(`${product.url}/pipeline`);
      await page.getByRole('heading', { name: 'Pipeline', level: 1 }).waitFor();
      const started = performance.now();
      await page.goto(`${product.url}/candidates/${c.candidate.id}`);
      await page.frameLocator('iframe.message-frame').getByText(`Message ${PER_THREAD}.`).waitFor();
      // The first visit warms the browser's and the server's caches.
      if (i > 0) times.push(performance.now() - started);
    }
    await context.close();
    times.sort((a, b) => a - b);
    const note = `${THREADS * PER_THREAD} messages in ${THREADS} threads, headless Chromium, navigation to the newest message's body on screen; ${samples} loads`;
    report('messagesRender.firstRender.p50', percentile(times, 50), 'ms', note);
    report('messagesRender.firstRender.max', times[times.length - 1]!, 'ms');
  } finally {
    await browser.close();
    await product.close();
  }
}

// `npx tsx bench/messages-render.ts`: this figure alone.
if (import.meta.url === `file://${process.argv[1]}`) {
  await benchMessagesRender({ full: process.argv.includes('--full'), report: (name, value, unit, note) => console.log(`${name}: ${value.toFixed(0)} ${unit}${note ? `  (${note})` : ''}`) });
}
