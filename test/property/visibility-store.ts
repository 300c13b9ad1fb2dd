import { sql, type CompiledQuery, type Kysely } from 'kysely';
import { newId } from '../../src/ids.ts';
import type { DB } from '../../src/store/schema.ts';
import { messageVisibleTo, type Viewer } from '../../src/store/visibility.ts';
import { GrantEndedError, ingestBatch } from '../../src/sync/ingest/store.ts';
import { CANDIDATES, USERS, type World } from './visibility-model.ts';

/** What both drivers of the visibility property share: the world's rows, stored mail, and the predicate's answer. */

/** The mailbox a user connects to a seat (one per person: R-62, the mailbox belongs to the person, not the seat). */
export const mailboxOf = (userId: string) => `mailbox-${userId}@example.test`;

/**
 * Two contracts (email access `view`) with their users and candidates, and one seat each held by the first
 * recruiter with that recruiter's mailbox connected, written as plain rows in a few statements: tenancy is not
 * what the property is about, and thousands of sequences each need a world of their own. Seats are written as
 * `createSeat` leaves them (the seat and the holder's open tenure); every later seat and holder change goes through
 * the service.
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
  for (const [k, seatId] of seats.entries()) await connectMailbox(db, { contractId: contracts[k]!, seatId, address: mailboxOf(holders[k]!), at: now });
  return { contracts, users, candidates, seats };
}

/**
 * The seat's email grant as the OAuth callback leaves it when its holder connects their mailbox (the property is
 * not about OAuth): authorized, at that mailbox's address. No token is kept, so an ending queues no revocation.
 */
export async function connectMailbox(db: Kysely<DB>, input: { contractId: string; seatId: string; address: string; at: Date }): Promise<void> {
  const { contractId, seatId, address, at } = input;
  await db
    .insertInto('mailbox_authorizations')
    .values({
      id: newId(), seat_id: seatId, contract_id: contractId, kind: 'email', provider: 'google', state: 'authorized', address, aliases: [], scopes: [],
      access_token_ciphertext: null, refresh_token_ciphertext: null, access_token_expires_at: null, first_authorized_at: at, last_authorized_at: at,
      deauthorized_at: null, state_reason: null, updated_at: at, refresh_lease_id: null, refresh_lease_until: null,
    })
    .onConflict((oc) => oc.columns(['seat_id', 'kind']).doUpdateSet({ state: 'authorized', address, last_authorized_at: at, deauthorized_at: null, state_reason: null, updated_at: at }))
    .execute();
}

/**
 * A candidate's message arriving in `mailbox`, stored as a sync run of that mailbox stores it: through the sync
 * engine's `ingestBatch`, whose owner is whoever holds the seat as it is written. `null` when the product wrote
 * nothing because the seat's grant for that mailbox has ended.
 */
export async function storeSyncedMessage(
  db: Kysely<DB>,
  input: { contractId: string; seatId: string; mailbox: string; providerThreadId: string; candidateId: string; subject: string; at: Date },
): Promise<{ messageId: string; threadId: string } | null> {
  const { contractId, seatId, mailbox, providerThreadId, candidateId, subject, at } = input;
  const counterpart = `candidate-${candidateId}@mail.example`;
  const rfcMessageId = `${newId()}@mail.example`;
  const raw = [`From: ${counterpart}`, `To: ${mailbox}`, `Subject: ${subject}`, `Date: ${at.toUTCString()}`, `Message-ID: <${rfcMessageId}>`, 'Content-Type: text/plain; charset=utf-8', '', subject, ''].join('\r\n');
  const providerMessageId = newId();
  try {
    const result = await ingestBatch(
      db,
      { seatId, contractId, provider: 'google', owner: { address: mailbox, aliases: [] } },
      [
        {
          facts: { providerMessageId, providerThreadId, from: counterpart, to: mailbox, date: at, isSpam: false, isDraft: false, isSent: false, rfcMessageId },
          decision: { ingested: true, rule: null, reason: 'property', summary: 'property', facts: {}, counterpart, participants: [counterpart], candidateIds: [candidateId], threadInitiatedThroughProduct: false },
          raw,
        },
      ],
      at,
    );
    const stored = result.stored[0];
    if (stored?.outcome !== 'inserted') throw new Error(`a new message was not inserted: ${stored?.outcome}`);
    return { messageId: stored.messageId, threadId: stored.threadId };
  } catch (error) {
    if (error instanceof GrantEndedError) return null;
    throw error;
  }
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
