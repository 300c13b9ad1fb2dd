import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/store/database.ts';
import { loadSeatMailbox } from '../../src/sync/ingest/candidates.ts';
import { decideBatch } from '../../src/sync/ingest/decide.ts';
import { ingestBatch } from '../../src/sync/ingest/store.ts';
import { contentDisposition } from '../../src/api/routes/messages.ts';
import { startTestApi, type TestApi } from '../helpers/app.ts';
import { connectMailbox } from '../helpers/connect.ts';
import { backends } from '../helpers/databases.ts';
import { createCompany } from '../helpers/fixtures.ts';
import { startTestSimulators, type TestSimulators } from '../helpers/simulators.ts';
import { decideContext, mail, type MailSpec } from '../sync/ingest/setup.ts';

/**
 * Attachments of a message (API.md "Messages"): listed with the message and downloaded by id, through the same
 * visibility predicate as the message itself (R-60 … R-63). Contents are not stored: the download reads the
 * mailbox the message was synced from.
 */
const CV = Buffer.from('%PDF-1.4\n% Carla Candidate, curriculum vitae\n%%EOF\n');
const CV_NAME = 'Carla "final" CV.pdf';

describe.each(backends)('attachments on $name', (backend) => {
  let database: Database;
  let api: TestApi;
  let sim: TestSimulators;
  let n = 0;
  beforeAll(async () => {
    database = await backend.open();
    sim = await startTestSimulators();
    api = await startTestApi(database, { simulatorUrl: sim.url });
  });
  afterAll(async () => {
    await api?.close();
    await sim?.close();
    await database?.close();
  });

  /** A company whose recruiter Rita connected her Gmail and synced one email from Carla with her CV attached. */
  async function world() {
    const domain = `att${++n}.test`;
    const rita = `rita@${domain}`;
    const c = await createCompany(api, `Attachments ${n}`, domain);
    await c.json('PUT', `/api/v1/contracts/${c.contract.id}/settings`, { emailProvider: 'google', emailAccess: 'view' });
    const sam = await c.json('POST', `/api/v1/contracts/${c.contract.id}/users`, { email: `sam@${domain}`, name: 'Sam Sourcer', role: 'recruiter' });
    await c.json('POST', `/api/v1/contracts/${c.contract.id}/seats`, { userId: sam.id });
    await sim.control('POST', '/_sim/tenants', { provider: 'google', domain });
    await sim.control('POST', '/_sim/mailboxes', { provider: 'google', address: rita });
    await connectMailbox(api, { seatId: c.seat.id, userId: c.recruiter.id, token: c.contractToken, kind: 'email', address: rita });
    const spec: MailSpec = {
      id: 'pending',
      messageId: `<cv-${n}@mail.example>`,
      from: 'Carla Candidate <carla@mail.example>',
      to: rita,
      subject: 'My CV',
      text: 'Hi Rita, my CV is attached.',
      date: new Date(api.clock.now().getTime() - 60_000),
      attachments: [
        { filename: CV_NAME, content: CV, contentType: 'application/pdf' },
        { filename: 'notes.txt', content: 'portfolio: https://carla.example', contentType: 'text/plain' },
      ],
    };
    // The email is in Rita's mailbox at the provider; sync stores it (metadata of the attachments only).
    const delivered = await sim.control('POST', `/_sim/mailboxes/${encodeURIComponent(rita)}/messages`, { raw: (await mail(spec)).raw.toString('base64') });
    const synced = await mail({ ...spec, id: delivered.id, thread: delivered.threadId });
    const mailbox = await loadSeatMailbox(api.ctx.db, c.seat.id);
    const [decision] = await decideBatch(api.ctx.db, mailbox.seatId, [synced.facts], await decideContext(api, mailbox, api.clock.now()));
    expect(decision!.ingested).toBe(true);
    await ingestBatch(api.ctx.db, mailbox, [{ facts: synced.facts, decision: decision!, raw: synced.raw }], api.clock.now());
    const as = (userId: string) => ({ token: c.contractToken, actAs: userId });
    const threads = (await api.call('GET', `/api/v1/candidates/${c.candidate.id}/messages`, as(c.recruiter.id))).json();
    const message = threads[0].messages[0] as { id: string; attachments: Array<{ id: string; filename: string; contentType: string; sizeBytes: number }> };
    return { ...c, sam, as, message, rita };
  }

  it('lists the attachments with the message and serves one as an untrusted download to its owner', async () => {
    const w = await world();
    expect(w.message.attachments).toEqual([
      { id: expect.any(String), filename: CV_NAME, contentType: 'application/pdf', sizeBytes: CV.byteLength },
      { id: expect.any(String), filename: 'notes.txt', contentType: 'text/plain', sizeBytes: 32 },
    ]);
    const one = (await api.call('GET', `/api/v1/messages/${w.message.id}`, w.as(w.recruiter.id))).json();
    expect(one.attachments).toEqual(w.message.attachments);

    const res = await api.call('GET', `/api/v1/messages/${w.message.id}/attachments/${w.message.attachments[0]!.id}`, w.as(w.recruiter.id));
    expect(res.statusCode, res.body).toBe(200);
    expect(res.rawPayload.equals(CV)).toBe(true);
    expect(res.headers['content-type']).toBe('application/pdf');
    expect(res.headers['content-disposition']).toBe(`attachment; filename="Carla _final_ CV.pdf"; filename*=UTF-8''Carla%20%22final%22%20CV.pdf`);
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['content-security-policy']).toContain('sandbox');
    // A text file is a download too, never a page of the product's origin.
    const text = await api.call('GET', `/api/v1/messages/${w.message.id}/attachments/${w.message.attachments[1]!.id}`, w.as(w.recruiter.id));
    expect(text.body).toBe('portfolio: https://carla.example');
    expect(text.headers['content-disposition']).toMatch(/^attachment; filename="notes.txt"/);
  });

  it('R-60 … R-63: a recruiter who cannot see the message cannot download its attachment by id, until it is shared', async () => {
    const w = await world();
    const url = `/api/v1/messages/${w.message.id}/attachments/${w.message.attachments[0]!.id}`;
    const refused = await api.call('GET', url, w.as(w.sam.id));
    expect(refused.statusCode).toBe(404);
    expect(refused.json()).toEqual({ error: { code: 'not_found', message: 'message not found' } });
    expect(refused.rawPayload.includes(CV)).toBe(false);
    // The admin holds no seat: no back door either.
    expect((await api.call('GET', url, w.as(w.admin.id))).statusCode).toBe(404);
    // An attachment id is only valid with its own message.
    const other = await api.call('GET', `/api/v1/messages/${w.message.id}/attachments/${crypto.randomUUID()}`, w.as(w.recruiter.id));
    expect(other.json().error.code).toBe('not_found');
    // Shared with the company, every seat may read it, attachment included.
    expect((await api.call('PATCH', `/api/v1/messages/${w.message.id}`, { ...w.as(w.recruiter.id), body: { visibility: 'contract' } })).statusCode).toBe(200);
    const shared = await api.call('GET', url, w.as(w.sam.id));
    expect(shared.statusCode, shared.body).toBe(200);
    expect(shared.rawPayload.equals(CV)).toBe(true);
  });

  it('says why a download is impossible once the source mailbox is disconnected, and nothing while email is off', async () => {
    const w = await world();
    const url = `/api/v1/messages/${w.message.id}/attachments/${w.message.attachments[0]!.id}`;
    expect((await api.call('DELETE', `/api/v1/seats/${w.seat.id}/authorizations/email`, w.as(w.recruiter.id))).statusCode).toBeLessThan(300);
    const gone = await api.call('GET', url, w.as(w.recruiter.id));
    expect(gone.json().error).toEqual({ code: 'not_authorized', message: 'The mailbox this email was synced from is no longer connected, so its attachment cannot be downloaded.' });
    await w.json('PUT', `/api/v1/contracts/${w.contract.id}/settings`, { emailAccess: 'off' });
    expect((await api.call('GET', url, w.as(w.recruiter.id))).json().error.code).toBe('email_disabled');
  });

  it('shows a message sent from the product with the sender\'s display name', async () => {
    const w = await world();
    await api.ctx.db.updateTable('mail_messages').set({ origin: 'sent_from_product', direction: 'outbound', from_address: w.rita, from_name: null }).where('id', '=', w.message.id).execute();
    const view = (await api.call('GET', `/api/v1/messages/${w.message.id}`, w.as(w.recruiter.id))).json();
    expect(view).toMatchObject({ from: w.rita, fromName: 'Rita Recruiter', origin: 'sent_from_product' });
  });
});

describe('the download name', () => {
  it('keeps header syntax out of the ASCII fallback and the exact name in filename*', () => {
    expect(contentDisposition('../../etc/passwd')).toBe(`attachment; filename=".._.._etc_passwd"; filename*=UTF-8''.._.._etc_passwd`);
    expect(contentDisposition('CV\r\nSet-Cookie: x=1.pdf')).toBe(`attachment; filename="CVSet-Cookie: x=1.pdf"; filename*=UTF-8''CVSet-Cookie%3A%20x%3D1.pdf`);
    expect(contentDisposition('Lebenslauf Müller (2026).pdf')).toBe(`attachment; filename="Lebenslauf M_ller (2026).pdf"; filename*=UTF-8''Lebenslauf%20M%C3%BCller%20%282026%29.pdf`);
    expect(contentDisposition('')).toBe(`attachment; filename="attachment"; filename*=UTF-8''attachment`);
  });
});
