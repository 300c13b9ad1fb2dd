import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../../src/store/database.ts';
import { decideBatch } from '../../../src/sync/ingest/decide.ts';
import { GrantEndedError, ingestBatch, recordDecisions } from '../../../src/sync/ingest/store.ts';
import type { TestApi } from '../../helpers/app.ts';
import { backends } from '../../helpers/databases.ts';
import { startTestApi } from '../../helpers/app.ts';
import { decideContext, ingestCompany, mail, type IngestCompany, type MailSpec } from './setup.ts';

// Set once the company exists: decisions are made after the seat holder's tenure began, as in production.
let NOW: Date;
const at = (minutes: number) => new Date(NOW.getTime() + minutes * 60_000);

interface Decision {
  providerMessageId: string;
  threadId: string | null;
  providerThreadId: string | null;
  decidedAt: string;
  ingested: boolean;
  rule: string | null;
  detail: Record<string, unknown>;
}

describe.each(backends)('decisions API on $name', (backend) => {
  let database: Database;
  let api: TestApi;
  let a: IngestCompany;
  let b: IngestCompany;
  let colleague: { id: string };

  async function ingest(co: IngestCompany, specs: MailSpec[], now: Date) {
    const mails = await Promise.all(specs.map(mail));
    const decisions = await decideBatch(api.ctx.db, co.mailbox.seatId, mails.map((m) => m.facts), await decideContext(api, co.mailbox, now));
    await ingestBatch(api.ctx.db, co.mailbox, mails.map((m, i) => ({ facts: m.facts, decision: decisions[i]!, ...(decisions[i]!.ingested ? { raw: m.raw } : {}) })), now);
  }

  beforeAll(async () => {
    database = await backend.open();
    api = await startTestApi(database);
    a = await ingestCompany(api, 'Alpha', 'alpha.test');
    b = await ingestCompany(api, 'Bravo', 'bravo.test');
    NOW = new Date(api.clock.now().getTime() + 60_000);
    colleague = await a.json('POST', `/api/v1/contracts/${a.contract.id}/users`, { email: 'colin@alpha.test', name: 'Colin Colleague', role: 'recruiter' });
    // Decided one after another, so "newest first" has an order to show.
    await ingest(a, [{ id: 'c-1', thread: 'TC', from: 'carla@mail.example', to: 'rita@alpha.test', text: 'BODY-ONE', subject: 'SUBJECT-ONE', date: at(-300) }], at(1));
    await ingest(a, [{ id: 'c-spam', from: 'carla@mail.example', to: 'rita@alpha.test', text: 'BODY-SPAM', date: at(-200), isSpam: true }], at(2));
    await ingest(a, [{ id: 'c-group', from: 'Carla+x@mail.example', to: 'rita@alpha.test', cc: 'boss@elsewhere.example', text: 'BODY-GROUP', date: at(-100) }], at(3));
    await ingest(a, [{ id: 'n-1', from: 'news@letters.example', to: 'rita@alpha.test', text: 'BODY-NEWS', date: at(-50) }], at(4));
  });
  afterAll(async () => {
    await api.close();
    await database.close();
  });

  const get = async (url: string, who: { token?: string; actAs?: string }) => {
    const res = await api.call('GET', url, who);
    return { status: res.statusCode, body: res.json() as Decision[] & { error?: { code: string } } };
  };
  const url = (seatId: string, query = '') => `/api/v1/seats/${seatId}/sync/decisions${query}`;

  it("answers the seat holder by counterpart address, newest first, with the facts and no body", async () => {
    const { status, body } = await get(url(a.seat.id, '?address=CARLA%2Bjobs%40Mail.Example'), { token: a.contractToken, actAs: a.recruiter.id });
    expect(status).toBe(200);
    expect(body.map((d) => [d.providerMessageId, d.ingested, d.rule])).toEqual([
      ['c-group', false, 'R-30'],
      ['c-spam', false, 'R-38'],
      ['c-1', true, null],
    ]);
    const stored = await api.ctx.db.selectFrom('mail_threads').select('id').where('provider_thread_id', '=', 'TC').executeTakeFirstOrThrow();
    expect(body[2]).toMatchObject({ threadId: stored.id, providerThreadId: 'TC', decidedAt: at(1).toISOString() });
    expect(body[0]!.threadId).toBeNull();
    expect(body[0]!.detail).toMatchObject({ summary: expect.stringMatching(/^Not synced \(R-30, Two participants only\)/), participants: ['boss@elsewhere.example', 'carla@mail.example', 'rita@alpha.test'] });
    expect(body[2]!.detail).toMatchObject({ summary: expect.stringMatching(/^Synced: /), facts: { counterpart: 'carla@mail.example', candidateIds: [a.candidate.id] } });
    expect(JSON.stringify(body)).not.toMatch(/BODY-|SUBJECT-ONE/);

    // A participant of a group message finds it too; so does the provider message id.
    expect((await get(url(a.seat.id, '?address=boss@elsewhere.example'), { token: a.contractToken, actAs: a.recruiter.id })).body.map((d) => d.providerMessageId)).toEqual(['c-group']);
    const byId = await get(url(a.seat.id, '?providerMessageId=n-1'), { token: a.contractToken, actAs: a.recruiter.id });
    expect(byId.body.map((d) => [d.providerMessageId, d.rule])).toEqual([['n-1', 'R-33']]);
    // An address no examined message carried is explained by the rules applied to the address itself.
    const unseen = (await get(url(a.seat.id, '?address=nobody@nowhere.example'), { token: a.contractToken, actAs: a.recruiter.id })).body;
    expect(unseen.map((d) => [d.providerMessageId, d.ingested, d.rule])).toEqual([[null, false, 'R-33']]);
  });

  it('shows admins and integrations the rule and counterpart of candidate mail only (R-63)', async () => {
    for (const who of [{ token: a.contractToken, actAs: a.admin.id }, { token: a.contractToken }]) {
      const { status, body } = await get(url(a.seat.id, '?providerMessageId=c-spam'), who);
      expect(status).toBe(200);
      expect(body).toHaveLength(1);
      expect(body[0]).toMatchObject({ providerMessageId: 'c-spam', ingested: false, rule: 'R-38' });
      expect(body[0]!.detail).toEqual({ summary: 'Not synced (R-38, Spam and drafts).', ruleTitle: 'Spam and drafts', counterpart: 'carla@mail.example', messageDate: at(-200).toISOString(), restricted: true });
      // Mail with a counterpart who is no candidate stays the holder's: not listed, and asked by address, the
      // answer is the one an address never seen gets (the rules applied to the address), so its existence and date stay hidden.
      expect((await get(url(a.seat.id, '?providerMessageId=n-1'), who).then((r) => r.body))).toEqual([]);
      const byAddress = (await get(url(a.seat.id, '?address=news@letters.example'), who)).body;
      const unseen = (await get(url(a.seat.id, '?address=never@letters.example'), who)).body;
      expect(byAddress.map((d) => [d.providerMessageId, d.rule, d.detail.addressOnly])).toEqual([[null, 'R-33', true]]);
      expect(unseen.map((d) => [d.providerMessageId, d.rule, d.detail.addressOnly])).toEqual([[null, 'R-33', true]]);
      const all = (await get(url(a.seat.id), who)).body;
      expect(all.map((d) => d.providerMessageId).sort()).toEqual(['c-1', 'c-spam']);
    }
  });

  it('refuses other users of the contract and hides the seat from other contracts', async () => {
    const other = await get(url(a.seat.id), { token: a.contractToken, actAs: colleague.id });
    expect([other.status, other.body.error?.code]).toEqual([403, 'forbidden']);
    for (const who of [{ token: b.contractToken }, { token: b.contractToken, actAs: b.admin.id }, { token: b.contractToken, actAs: b.recruiter.id }]) {
      const res = await get(url(a.seat.id, '?address=carla@mail.example'), who);
      expect([res.status, res.body.error?.code]).toEqual([404, 'not_found']);
    }
    // Bravo's own log knows nothing of Alpha's.
    expect((await get(url(b.seat.id), { token: b.contractToken, actAs: b.recruiter.id })).body).toEqual([]);
    const bad = await get(url(a.seat.id, '?address=x'), { token: a.contractToken, actAs: a.recruiter.id });
    expect([bad.status, bad.body.error?.code]).toEqual([400, 'validation_failed']);
  });

  it('lists at most 200 decisions, newest first', async () => {
    const { facts } = await mail({ id: 'bulk', from: 'news@letters.example', to: 'rita@alpha.test', date: at(-10) });
    const decision = (await decideBatch(api.ctx.db, a.mailbox.seatId, [facts], await decideContext(api, a.mailbox, NOW)))[0]!;
    await recordDecisions(
      api.ctx.db,
      Array.from({ length: 205 }, (_, i) => ({ seatId: a.seat.id, contractId: a.contract.id, facts: { ...facts, providerMessageId: `bulk-${i}` }, decision, decidedAt: at(10 + i) })),
    );
    const { body } = await get(url(a.seat.id), { token: a.contractToken, actAs: a.recruiter.id });
    expect(body).toHaveLength(200);
    expect(body[0]!.providerMessageId).toBe('bulk-204');
    expect(body[199]!.providerMessageId).toBe('bulk-5');
  });

  it("shows a new holder of the seat only the reduced form of decisions made before they took it", async () => {
    const nina = await a.json('POST', `/api/v1/contracts/${a.contract.id}/users`, { email: 'nina@alpha.test', name: 'Nina New', role: 'recruiter' });
    api.clock.set(at(300));
    await a.json('POST', `/api/v1/seats/${a.seat.id}/transfer`, { toUserId: nina.id });
    const { status, body } = await get(url(a.seat.id, '?providerMessageId=c-1'), { token: a.contractToken, actAs: nina.id });
    expect(status).toBe(200);
    expect(body[0]!.detail).toMatchObject({ restricted: true, counterpart: 'carla@mail.example', summary: 'Synced.' });
    expect(body[0]!.detail).not.toHaveProperty('facts');
    // The previous holder, now without the seat, is refused.
    expect((await get(url(a.seat.id), { token: a.contractToken, actAs: a.recruiter.id })).status).toBe(403);
    // The transfer ended the previous holder's mailbox grant: a sync run that loaded that mailbox
    // before the transfer writes nothing of what it fetches afterwards, neither the message nor its decision.
    const grant = await api.ctx.db.selectFrom('mailbox_authorizations').select(['state', 'state_reason', 'refresh_token_ciphertext']).where('seat_id', '=', a.seat.id).where('kind', '=', 'email').executeTakeFirstOrThrow();
    expect(grant).toEqual({ state: 'deauthorized', state_reason: 'seat_transferred', refresh_token_ciphertext: null });
    const mailbox = a.mailbox;
    const later = new Date(Math.max(api.clock.now().getTime(), at(400).getTime()) + 60_000);
    const m = await mail({ id: 'after-transfer', from: 'carla@mail.example', to: 'rita@alpha.test', date: later });
    const decision = (await decideBatch(api.ctx.db, a.seat.id, [m.facts], await decideContext(api, mailbox, later)))[0]!;
    expect(decision.ingested).toBe(true);
    await expect(ingestBatch(api.ctx.db, mailbox, [{ facts: m.facts, decision, raw: m.raw }], later)).rejects.toBeInstanceOf(GrantEndedError);
    expect((await get(url(a.seat.id, '?providerMessageId=after-transfer'), { token: a.contractToken, actAs: nina.id })).body).toEqual([]);
    expect(await api.ctx.db.selectFrom('mail_messages').select('id').where('provider_message_id', '=', 'after-transfer').execute()).toEqual([]);
  });

  it('is documented in the OpenAPI document', async () => {
    const doc = (await api.app.inject({ method: 'GET', url: '/openapi.json' })).json();
    const op = doc.paths['/api/v1/seats/{id}/sync/decisions'].get;
    expect(op.parameters.map((p: { name: string }) => p.name)).toEqual(expect.arrayContaining(['id', 'address', 'providerMessageId']));
    expect(op.responses['200'].content['application/json'].schema.items.properties).toHaveProperty('detail');
  });
});
