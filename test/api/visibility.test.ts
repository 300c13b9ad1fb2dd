import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/store/database.ts';
import { startTestApi, type TestApi } from '../helpers/app.ts';
import { backends } from '../helpers/databases.ts';
import { createCompany, insertMessage } from '../helpers/fixtures.ts';

describe.each(backends)('message visibility (R-60 … R-63) on $name', (backend) => {
  let database: Database;
  let api: TestApi;
  let n = 0;
  beforeAll(async () => {
    database = await backend.open();
    api = await startTestApi(database);
  });
  afterAll(async () => {
    await api.close();
    await database.close();
  });

  async function company() {
    const domain = `vis${++n}.test`;
    const c = await createCompany(api, `Vis ${n}`, domain);
    const sam = await c.json('POST', `/api/v1/contracts/${c.contract.id}/users`, { email: `sam@${domain}`, name: 'Sam', role: 'recruiter' });
    const samSeat = await c.json('POST', `/api/v1/contracts/${c.contract.id}/seats`, { userId: sam.id });
    await c.json('PUT', `/api/v1/contracts/${c.contract.id}/settings`, { emailProvider: 'google', emailAccess: 'view' });
    const as = (userId: string) => ({ token: c.contractToken, actAs: userId });
    const seen = async (userId: string) => {
      const res = await api.call('GET', `/api/v1/candidates/${c.candidate.id}/messages`, as(userId));
      expect(res.statusCode, res.body).toBe(200);
      return res.json().flatMap((t: { messages: Array<{ id: string }> }) => t.messages.map((m) => m.id)).sort();
    };
    return { ...c, sam, samSeat, as, seen };
  }

  it('R-60: private by default — only the owner sees it; contract messages are seen by every seat', async () => {
    const c = await company();
    const priv = await insertMessage(api, { contractId: c.contract.id, seatId: c.seat.id, ownerUserId: c.recruiter.id, candidateId: c.candidate.id });
    const shared = await insertMessage(api, { contractId: c.contract.id, seatId: c.seat.id, ownerUserId: c.recruiter.id, candidateId: c.candidate.id, visibility: 'contract' });
    expect(await c.seen(c.recruiter.id)).toEqual([priv.messageId, shared.messageId].sort());
    expect(await c.seen(c.sam.id)).toEqual([shared.messageId]);
    expect((await api.call('GET', `/api/v1/messages/${priv.messageId}`, c.as(c.sam.id))).statusCode).toBe(404);
    const mine = (await api.call('GET', `/api/v1/messages/${priv.messageId}`, c.as(c.recruiter.id))).json();
    expect(mine).toMatchObject({ visibility: 'private', origin: 'synced', isOwner: true, ownerSeatId: c.seat.id });
  });

  it('R-63: admins get no back door; integrations acting as themselves see nothing', async () => {
    const c = await company();
    await insertMessage(api, { contractId: c.contract.id, seatId: c.seat.id, ownerUserId: c.recruiter.id, candidateId: c.candidate.id });
    const shared = await insertMessage(api, { contractId: c.contract.id, seatId: c.seat.id, ownerUserId: c.recruiter.id, candidateId: c.candidate.id, visibility: 'contract' });
    // The admin holds no seat: not even contract messages.
    expect(await c.seen(c.admin.id)).toEqual([]);
    const asIntegration = await api.call('GET', `/api/v1/candidates/${c.candidate.id}/messages`, { token: c.contractToken });
    expect(asIntegration.statusCode).toBe(403);
    // With a seat, the admin sees what every seat sees, and still no private mail.
    await c.json('POST', `/api/v1/contracts/${c.contract.id}/seats`, { userId: c.admin.id });
    expect(await c.seen(c.admin.id)).toEqual([shared.messageId]);
  });

  it('R-61: only the owner changes visibility, per message and per thread', async () => {
    const c = await company();
    const first = await insertMessage(api, { contractId: c.contract.id, seatId: c.seat.id, ownerUserId: c.recruiter.id, candidateId: c.candidate.id, providerThreadId: 'thread-1' });
    const second = await insertMessage(api, { contractId: c.contract.id, seatId: c.seat.id, ownerUserId: c.recruiter.id, candidateId: c.candidate.id, providerThreadId: 'thread-1' });
    const shared = await api.call('PATCH', `/api/v1/messages/${first.messageId}`, { ...c.as(c.recruiter.id), body: { visibility: 'contract' } });
    expect(shared.json().visibility).toBe('contract');
    expect(await c.seen(c.sam.id)).toEqual([first.messageId]);
    // Sam sees it but does not own it.
    const bySam = await api.call('PATCH', `/api/v1/messages/${first.messageId}`, { ...c.as(c.sam.id), body: { visibility: 'private' } });
    expect([bySam.statusCode, bySam.json().error.code]).toEqual([403, 'forbidden']);
    const thread = await api.call('PATCH', `/api/v1/threads/${first.threadId}`, { ...c.as(c.recruiter.id), body: { visibility: 'contract' } });
    expect(thread.json()).toEqual({ threadId: first.threadId, visibility: 'contract', messagesChanged: 1 });
    expect(await c.seen(c.sam.id)).toEqual([first.messageId, second.messageId].sort());
    // Each use of X-Act-As-User is audited too; the changes themselves, newest first:
    const audit = await c.json('GET', `/api/v1/contracts/${c.contract.id}/audit?limit=20`);
    const changes = audit.entries.map((e: { action: string }) => e.action).filter((a: string) => a !== 'integration.acted_as');
    expect(changes.slice(0, 2)).toEqual(['thread.visibility_changed', 'message.visibility_changed']);
  });

  it('R-62: after a transfer private mail of the seat is visible to nobody, contract mail stays', async () => {
    const c = await company();
    const priv = await insertMessage(api, { contractId: c.contract.id, seatId: c.seat.id, ownerUserId: c.recruiter.id, candidateId: c.candidate.id });
    const shared = await insertMessage(api, { contractId: c.contract.id, seatId: c.seat.id, ownerUserId: c.recruiter.id, candidateId: c.candidate.id, visibility: 'contract' });
    const newcomer = await c.json('POST', `/api/v1/contracts/${c.contract.id}/users`, { email: `new${n}@vis${n}.test`, name: 'New', role: 'recruiter' });
    api.clock.set(new Date(api.clock.now().getTime() + 1000));
    await c.json('POST', `/api/v1/seats/${c.seat.id}/transfer`, { toUserId: newcomer.id });
    expect(await c.seen(newcomer.id)).toEqual([shared.messageId]);
    expect(await c.seen(c.sam.id)).toEqual([shared.messageId]);
    // The former holder has no seat now, so sees nothing; nor after getting the seat back.
    api.clock.set(new Date(api.clock.now().getTime() + 1000));
    await c.json('POST', `/api/v1/seats/${c.seat.id}/transfer`, { toUserId: c.recruiter.id });
    expect(await c.seen(c.recruiter.id)).toEqual([shared.messageId]);
    expect((await api.call('PATCH', `/api/v1/messages/${priv.messageId}`, { ...c.as(c.recruiter.id), body: { visibility: 'contract' } })).statusCode).toBe(404);
    await c.json('POST', `/api/v1/seats/${c.seat.id}/park`);
    expect(await c.seen(c.sam.id)).toEqual([shared.messageId]);
  });

  it('R-63 previews and R-02: counts only what the caller may see; nothing while email is off', async () => {
    const c = await company();
    await insertMessage(api, { contractId: c.contract.id, seatId: c.seat.id, ownerUserId: c.recruiter.id, candidateId: c.candidate.id, subject: 'Private one', sentAt: new Date('2026-10-02T10:00:00Z') });
    await insertMessage(api, { contractId: c.contract.id, seatId: c.seat.id, ownerUserId: c.recruiter.id, candidateId: c.candidate.id, subject: 'Shared one', visibility: 'contract', sentAt: new Date('2026-10-01T10:00:00Z') });
    const url = `/api/v1/pipeline/message-previews?candidateIds=${c.candidate.id}`;
    expect((await api.call('GET', url, c.as(c.recruiter.id))).json()[c.candidate.id]).toMatchObject({ count: 2, latest: { subject: 'Private one' } });
    expect((await api.call('GET', url, c.as(c.sam.id))).json()[c.candidate.id]).toMatchObject({ count: 1, latest: { subject: 'Shared one' } });
    await c.json('PUT', `/api/v1/contracts/${c.contract.id}/settings`, { emailAccess: 'off' });
    const off = await api.call('GET', `/api/v1/candidates/${c.candidate.id}/messages`, c.as(c.recruiter.id));
    expect([off.statusCode, off.json().error.code]).toEqual([409, 'email_disabled']);
  });
});
