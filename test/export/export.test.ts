import PostalMime from 'postal-mime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/store/database.ts';
import { sanitizeEmailHtml } from '../../src/sync/ingest/sanitize.ts';
import type { TestApi } from '../helpers/app.ts';
import { backends } from '../helpers/databases.ts';
import { createCompany, insertMessage } from '../helpers/fixtures.ts';
import { startTestApi } from '../helpers/app.ts';
import { unzip } from '../helpers/zip.ts';

describe('R-71 seat export', () => {
  let database: Database;
  let api: TestApi;
  let n = 0;

  beforeAll(async () => {
    database = await backends[0]!.open();
    api = await startTestApi(database);
  });
  afterAll(async () => {
    await api.close();
    await database.close();
  });

  /** Rita (seat A) and Tom (seat B) in one company, with mail of both seats. */
  async function company() {
    const domain = `ex${++n}.test`;
    const c = await createCompany(api, `Ex ${n}`, domain);
    await c.json('PUT', `/api/v1/contracts/${c.contract.id}/settings`, { emailProvider: 'google', emailAccess: 'view' });
    const tom = await c.json('POST', `/api/v1/contracts/${c.contract.id}/users`, { email: `tom@${domain}`, name: 'Tom', role: 'recruiter' });
    const tomSeat = await c.json('POST', `/api/v1/contracts/${c.contract.id}/seats`, { userId: tom.id });
    const base = { contractId: c.contract.id, candidateId: c.candidate.id };
    const ritaPrivate = await insertMessage(api, { ...base, seatId: c.seat.id, ownerUserId: c.recruiter.id, subject: 'Rita private' });
    const ritaShared = await insertMessage(api, { ...base, seatId: c.seat.id, ownerUserId: c.recruiter.id, visibility: 'contract', subject: 'Rita shared' });
    const tomPrivate = await insertMessage(api, { ...base, seatId: tomSeat.id, ownerUserId: tom.id, subject: 'Tom private' });
    const tomShared = await insertMessage(api, { ...base, seatId: tomSeat.id, ownerUserId: tom.id, visibility: 'contract', subject: 'Tom shared' });
    return { ...c, domain, tom, tomSeat, ritaPrivate, ritaShared, tomPrivate, tomShared };
  }
  const exportOf = (c: { contractToken: string }, seatId: string, actAs: string) => api.call('GET', `/api/v1/seats/${seatId}/export`, { token: c.contractToken, actAs });

  it('the holder downloads a .zip: messages.json plus one real .eml per message of their seat — not other seats’', async () => {
    const c = await company();
    const res = await exportOf(c, c.seat.id, c.recruiter.id);
    expect(res.statusCode, res.body).toBe(200);
    expect(res.headers['content-type']).toBe('application/zip');
    expect(res.headers['content-disposition']).toBe(`attachment; filename="recruiter-sync-export-${c.seat.id}.zip"`);
    expect(res.headers['x-export-messages']).toBe('2');
    const files = unzip(res.rawPayload);
    const ids = [c.ritaPrivate.messageId, c.ritaShared.messageId];
    expect([...files.keys()].sort()).toEqual(['messages.json', ...ids.map((id) => `messages/${id}.eml`)].sort());
    const archive = JSON.parse(files.get('messages.json')!.toString('utf8'));
    expect(archive).toMatchObject({ format: 'recruiter-sync-export/2', seat: { id: c.seat.id, contractId: c.contract.id, userId: c.recruiter.id } });
    expect(archive.messages.map((m: { id: string }) => m.id).sort()).toEqual(ids.sort());
    expect(res.rawPayload.toString('latin1')).not.toContain('Tom ');
    expect([...files.values()].map((f) => f.toString('utf8')).join('')).not.toContain('Tom ');

    const message = archive.messages.find((m: { id: string }) => m.id === c.ritaPrivate.messageId);
    expect(message).toMatchObject({ subject: 'Rita private', from: 'carla@mail.example', to: ['rita@acme.test'], visibility: 'private', origin: 'synced', direction: 'inbound', emlFile: `messages/${c.ritaPrivate.messageId}.eml` });
    expect(message.eml).toBeUndefined();
    const eml = await PostalMime.parse(files.get(message.emlFile)!);
    expect(eml.subject).toBe('Rita private');
    expect(eml.from).toMatchObject({ address: 'carla@mail.example', name: 'Carla' });
    expect(eml.to).toEqual([expect.objectContaining({ address: 'rita@acme.test' })]);
    expect(eml.messageId).toBe(message.messageId);
    expect(eml.text?.trim()).toBe('Hi Rita, thanks for reaching out');
    expect(eml.html).toContain('<p>Hi Rita, thanks for reaching out</p>');
    expect(new Date(eml.date!).toISOString()).toBe(new Date(message.sentAt).toISOString().replace(/\.\d{3}Z$/, '.000Z'));

    const audit = await c.json('GET', `/api/v1/contracts/${c.contract.id}/audit?limit=1`);
    expect(audit.entries[0]).toMatchObject({ action: 'seat.exported', targetId: c.seat.id, details: { messages: 2 } });
  });

  it('gives remote images their address back in the .eml, where the user\'s own mail client decides whether to load them', async () => {
    const c = await company();
    const html = sanitizeEmailHtml('<p>See our office</p><img src="https://images.example/office.png?a=1&b=2" alt="Office">');
    await api.ctx.db.updateTable('mail_messages').set({ body_html: html }).where('id', '=', c.ritaShared.messageId).execute();
    const files = unzip((await exportOf(c, c.seat.id, c.recruiter.id)).rawPayload);
    const message = JSON.parse(files.get('messages.json')!.toString('utf8')).messages.find((m: { id: string }) => m.id === c.ritaShared.messageId);
    expect(message.bodyHtml).toBe(html);
    const eml = await PostalMime.parse(files.get(message.emlFile)!);
    expect(eml.html).toContain('<img alt="Office" src="https://images.example/office.png?a=1&amp;b=2" />');
    expect(eml.html).not.toContain('data-remote-src');
  });

  it('streams: a seat with more messages than a page gets every one, in order, each .eml built when the archive reaches it', async () => {
    const c = await company();
    const more = [];
    for (let i = 0; i < 205; i++) more.push((await insertMessage(api, { contractId: c.contract.id, candidateId: c.candidate.id, seatId: c.seat.id, ownerUserId: c.recruiter.id, subject: `Bulk ${i}` })).messageId);
    const res = await exportOf(c, c.seat.id, c.recruiter.id);
    expect(res.statusCode).toBe(200);
    const files = unzip(res.rawPayload);
    const archive = JSON.parse(files.get('messages.json')!.toString('utf8'));
    expect(archive.messages).toHaveLength(207);
    for (const id of more) expect(files.get(`messages/${id}.eml`)!.length).toBeGreaterThan(100);
    const last = archive.messages.at(-1);
    expect((await PostalMime.parse(files.get(last.emlFile)!)).subject).toBe(last.subject);
  });

  it('nobody else exports a seat: another recruiter and an admin are forbidden (R-63), another contract gets not_found', async () => {
    const c = await company();
    const other = await company();
    const byTom = await exportOf(c, c.seat.id, c.tom.id);
    expect([byTom.statusCode, byTom.json().error.code]).toEqual([403, 'forbidden']);
    const byAdmin = await exportOf(c, c.seat.id, c.admin.id);
    expect([byAdmin.statusCode, byAdmin.json().error.code]).toEqual([403, 'forbidden']);
    const integration = await api.call('GET', `/api/v1/seats/${c.seat.id}/export`, { token: c.contractToken });
    expect(integration.statusCode).toBe(403);
    const cross = await exportOf(other, c.seat.id, other.recruiter.id);
    expect([cross.statusCode, cross.json().error.code]).toEqual([404, 'not_found']);
  });

  it('R-62: after a transfer the new holder’s export has the seat’s shared mail and their own, never the previous holder’s private mail', async () => {
    const c = await company();
    const una = await c.json('POST', `/api/v1/contracts/${c.contract.id}/users`, { email: `una@${c.domain}`, name: 'Una', role: 'recruiter' });
    api.clock.set(new Date(api.clock.now().getTime() + 60_000));
    await c.json('POST', `/api/v1/seats/${c.seat.id}/transfer`, { toUserId: una.id });
    api.clock.set(new Date(api.clock.now().getTime() + 60_000));
    const unaMail = await insertMessage(api, { contractId: c.contract.id, candidateId: c.candidate.id, seatId: c.seat.id, ownerUserId: una.id, subject: 'Una private' });

    const res = await exportOf(c, c.seat.id, una.id);
    expect(res.statusCode, res.body).toBe(200);
    const files = unzip(res.rawPayload);
    const ids = JSON.parse(files.get('messages.json')!.toString('utf8')).messages.map((m: { id: string }) => m.id).sort();
    expect(ids).toEqual([c.ritaShared.messageId, unaMail.messageId].sort());
    expect([...files.values()].map((f) => f.toString('utf8')).join('')).not.toContain('Rita private');

    const byRita = await exportOf(c, c.seat.id, c.recruiter.id);
    expect(byRita.statusCode).toBe(403);
  });

  it('R-02: nothing is exported while email is off', async () => {
    const c = await company();
    await c.json('PUT', `/api/v1/contracts/${c.contract.id}/settings`, { emailAccess: 'off' });
    const res = await exportOf(c, c.seat.id, c.recruiter.id);
    expect([res.statusCode, res.json().error.code]).toEqual([409, 'email_disabled']);
  });
});
