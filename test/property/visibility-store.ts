import { sql, type CompiledQuery, type Kysely } from 'kysely';
import { newId } from '../../src/ids.ts';
import type { DB } from '../../src/store/schema.ts';
import { messageVisibleTo, type Viewer } from '../../src/store/visibility.ts';
import { storeMessage } from '../../src/sync/ingest/index.ts';
import { CANDIDATES, USERS, type World } from './visibility-model.ts';

/** What both drivers of the visibility property share: the world's rows, stored mail, and the predicate's answer. */

/**
 * Two contracts (email access `view`) with their users and candidates, and one seat each held by the first
 * recruiter, written as plain rows in a few statements: tenancy is not what the property is about, and thousands
 * of sequences each need a world of their own. Seats are written as `createSeat` leaves them (the seat and the
 * holder's open tenure); every later seat and holder change goes through the service.
 */
export async function insertWorld(db: Kysely<DB>, now: Date, run: number): Promise<World> {
  const contracts = [newId(), newId()];
  const users = Array.from({ length: 2 * USERS }, () => newId());
  const candidates = Array.from({ length: 2 * CANDIDATES }, () => newId());
  const seats = [newId(), newId()];
  const contractOf = (i: number, per: number) => contracts[Math.floor(i / per)]!;
  await db
    .insertInto('contracts')
    .values(contracts.map((id, k) => ({ id, name: `Property ${run}-${k}`, status: 'active' as const, company_domains: [`p${run}-${k}.test`], email_provider: 'google' as const, email_access: 'view' as const, calendar_enabled: false, created_at: now, updated_at: now, suspended_at: null })))
    .execute();
  await db
    .insertInto('users')
    .values(users.map((id, u) => ({ id, contract_id: contractOf(u, USERS), email: `u${u % USERS}@p${run}-${Math.floor(u / USERS)}.test`, name: `User ${u}`, role: u % USERS === 0 ? ('admin' as const) : ('recruiter' as const), password_hash: null, created_at: now })))
    .execute();
  await db
    .insertInto('candidates')
    .values(candidates.map((id, c) => ({ id, contract_id: contractOf(c, CANDIDATES), name: `Candidate ${c}`, email_discovery: 'anyone' as const, created_at: now, updated_at: now })))
    .execute();
  const holders = seats.map((_, k) => users[k * USERS + 1]!);
  await db
    .insertInto('seats')
    .values(seats.map((id, k) => ({ id, contract_id: contracts[k]!, user_id: holders[k]!, status: 'active' as const, created_at: now })))
    .execute();
  await db
    .insertInto('seat_holders')
    .values(seats.map((id, k) => ({ seat_id: id, contract_id: contracts[k]!, user_id: holders[k]!, held_from: now, held_until: null })))
    .execute();
  return { contracts, users, candidates, seats };
}

/** A candidate's message stored by the sync engine's own `storeMessage`: owner is whoever holds the seat as it is written. */
export async function storeSyncedMessage(
  db: Kysely<DB>,
  input: { contractId: string; seatId: string; providerThreadId: string; candidateId: string; subject: string; at: Date },
): Promise<{ messageId: string; threadId: string }> {
  const { contractId, seatId, providerThreadId, candidateId, subject, at } = input;
  const counterpart = `candidate-${candidateId}@mail.example`;
  const mailbox = `seat-${seatId}@example.test`;
  const rfcMessageId = `${newId()}@mail.example`;
  const stored = await storeMessage(db, {
    mailbox: { seatId, contractId, provider: 'google', owner: { address: mailbox, aliases: [] } },
    facts: { providerMessageId: newId(), providerThreadId, from: counterpart, to: mailbox, date: at, isSpam: false, isDraft: false, isSent: false, rfcMessageId },
    parsed: { from: { address: counterpart }, to: [{ address: mailbox }], cc: [], bcc: [], subject, date: at, rfcMessageId, inReplyTo: null, references: [], bodyHtml: null, bodyText: subject, snippet: subject, attachments: [], problems: [] },
    decision: { ingested: true, rule: null, reason: 'property', summary: 'property', facts: {}, counterpart, participants: [counterpart], candidateIds: [candidateId], threadInitiatedThroughProduct: false },
    storedAt: at,
    // What ingestBatch establishes for a new message in one query per batch.
    known: { notStored: true, noMessageIdTwin: true },
  });
  if (stored.outcome !== 'inserted') throw new Error(`a new message was not inserted: ${stored.outcome}`);
  return { messageId: stored.messageId, threadId: stored.threadId };
}

/**
 * Every (user, message) pair `messageVisibleTo` lets through for the given users, in one statement. The same
 * users are asked after many steps, so the statement is built once per set of users.
 */
export function visiblePairsReader(db: Kysely<DB>) {
  const compiled = new Map<string, CompiledQuery>();
  return async (viewers: Viewer[]): Promise<Array<{ userId: string; messageId: string }>> => {
    const key = viewers.map((v) => v.userId).join(',');
    let query = compiled.get(key);
    if (!query) {
      const [first, ...rest] = viewers.map((viewer, i) => db.selectFrom('mail_messages').select([sql.lit(i).as('viewer'), 'mail_messages.id']).where(messageVisibleTo(viewer)));
      query = rest.reduce((union, next) => union.unionAll(next), first!).compile();
      if (compiled.size > 64) compiled.clear();
      compiled.set(key, query);
    }
    const result = await db.executeQuery<{ viewer: number; id: string }>(query);
    return result.rows.map((row) => ({ userId: viewers[Number(row.viewer)]!.userId, messageId: row.id }));
  };
}
