/**
 * R-40 read side: "why is (or isn't) this email here?" answered from the decision log of one seat.
 *
 * Who reads what. The log holds header facts only, but those still say who wrote to whom and when, so:
 * - the seat's current holder sees the full detail of every decision made during their tenure of the seat;
 * - the contract's admins (and integrations acting as themselves, which have an admin's rights) see only
 *   decisions about candidate mail — the counterpart is a candidate email of the contract, or the message was
 *   synced — in a reduced form: rule, counterpart and date, no other facts. The counterparts and dates of a
 *   seat's other one-to-one mail are the holder's private business (R-63); for such an address the answer is
 *   the same explanation by the rules that an address never seen gets, so it does not even tell whether mail
 *   with it exists;
 * - decisions made before the current holder took the seat are shown to them likewise (reduced, candidate
 *   mail only), as R-62 hides a previous holder's private mail from the next;
 * - anyone else of the contract is refused; another contract's seat does not exist for the caller.
 */
import { sql } from 'kysely';
import { normalizeAddress } from '../../domain/addresses.ts';
import { decideIngestion, describeDecision, RULE_TITLES, type IngestionRuleId } from '../../domain/ingestion/index.ts';
import { CandidateCache, loadSeatMailbox } from './candidates.ts';
import { forbidden } from '../../errors.ts';
import type { Actor } from '../../services/actors.ts';
import type { ServiceContext } from '../../services/context.ts';
import { loadSeat } from '../../services/seats.ts';

export const DECISIONS_LIMIT = 200;

export interface DecisionView {
  /** Null for an address explanation: no message with the address was examined (see `explainAddress`). */
  providerMessageId: string | null;
  /** The stored thread (as in the messages API) when the message is stored; null otherwise. */
  threadId: string | null;
  providerThreadId: string | null;
  decidedAt: Date;
  ingested: boolean;
  rule: string | null;
  detail: Record<string, unknown>;
}

export interface DecisionFilter {
  address?: string | undefined;
  providerMessageId?: string | undefined;
}

const EXTRA_TITLES: Readonly<Record<string, string>> = { 'R-24': 'Inactivity purge', 'R-25': 'Purged conversation' };

export function ruleTitle(rule: string | null): string | null {
  if (rule === null) return null;
  return RULE_TITLES[rule as IngestionRuleId] ?? EXTRA_TITLES[rule] ?? null;
}

/** The reduced detail: rule, counterpart and date, no other facts. */
function restrictedDetail(row: { ingested: boolean; rule: string | null; counterpart: string | null; detail: Record<string, unknown> }): Record<string, unknown> {
  const title = ruleTitle(row.rule);
  const summary = row.ingested ? 'Synced.' : row.rule === null ? 'Not synced.' : `Not synced (${row.rule}${title === null ? '' : `, ${title}`}).`;
  return {
    summary,
    ruleTitle: title,
    counterpart: row.counterpart,
    messageDate: row.detail.messageDate ?? null,
    ...(row.detail.deletedAtSource !== undefined ? { deletedAtSource: true } : {}),
    restricted: true,
  };
}

export async function listSeatDecisions(ctx: ServiceContext, actor: Actor, seatId: string, filter: DecisionFilter): Promise<DecisionView[]> {
  const seat = await loadSeat(ctx.db, actor, seatId);
  let fullSince: Date | null = null;
  if (actor.kind === 'user' && seat.user_id === actor.userId) {
    const tenure = await ctx.db.selectFrom('seat_holders').select('held_from').where('seat_id', '=', seat.id).where('user_id', '=', actor.userId).where('held_until', 'is', null).orderBy('held_from', 'desc').executeTakeFirst();
    fullSince = tenure?.held_from ?? new Date(0);
  } else if (actor.kind === 'user' && actor.role !== 'admin') {
    throw forbidden("Only the seat's holder and your company's admins can see why emails were or were not synced.");
  }

  let query = ctx.db
    .selectFrom('ingestion_decisions as d')
    .leftJoin('mail_messages as m', (join) => join.onRef('m.owner_seat_id', '=', 'd.seat_id').onRef('m.provider_message_id', '=', 'd.provider_message_id'))
    .select(['d.id', 'd.provider_message_id', 'd.provider_thread_id', 'd.decided_at', 'd.ingested', 'd.rule', 'd.counterpart', 'd.detail', 'm.thread_id'])
    .where('d.seat_id', '=', seat.id)
    .where('d.contract_id', '=', seat.contract_id);
  // Outside the holder's own tenure: candidate mail only (see above). Candidate emails are matched on the
  // contract's current profiles, normalized as the decision's counterpart is.
  const since = fullSince;
  query = query.where((eb) => {
    const candidateMail = eb.or([
      eb('d.ingested', '=', true),
      eb.exists(
        eb
          .selectFrom('candidate_emails as ce')
          .select('ce.candidate_id')
          .where('ce.contract_id', '=', seat.contract_id)
          .whereRef('ce.normalized', '=', 'd.counterpart'),
      ),
    ]);
    return since === null ? candidateMail : eb.or([eb('d.decided_at', '>=', since), candidateMail]);
  });
  if (filter.providerMessageId !== undefined) query = query.where('d.provider_message_id', '=', filter.providerMessageId);
  if (filter.address !== undefined) {
    const address = normalizeAddress(filter.address);
    query = query.where((eb) => eb.or([eb('d.counterpart', '=', address), sql<boolean>`(d.detail -> 'participants') @> ${JSON.stringify([address])}::jsonb`]));
  }
  const rows = await query.orderBy('d.decided_at', 'desc').orderBy('d.id', 'desc').limit(DECISIONS_LIMIT).execute();

  const views: DecisionView[] = rows.map((row) => {
    const detail = (row.detail ?? {}) as Record<string, unknown>;
    const full = fullSince !== null && row.decided_at.getTime() >= fullSince.getTime();
    return {
      providerMessageId: row.provider_message_id,
      threadId: row.thread_id,
      providerThreadId: row.provider_thread_id,
      decidedAt: row.decided_at,
      ingested: row.ingested,
      rule: row.rule,
      detail: full ? detail : restrictedDetail({ ingested: row.ingested, rule: row.rule, counterpart: row.counterpart, detail }),
    };
  });
  if (rows.length === 0 && filter.address !== undefined && filter.providerMessageId === undefined) {
    const explained = await explainAddress(ctx, seat.id, filter.address);
    return explained ? [explained] : [];
  }
  return views;
}

/**
 * R-40 for an address the sync never examined. The historical scan asks the provider only for mail that can
 * qualify (R-27: e.g. Gmail is searched by candidate addresses), so an address that cannot qualify leaves no
 * decision row. It is explained by the same rules, applied to the address itself now: R-31, R-33, R-32, R-34
 * (a one-to-one message between it and the seat's mailbox). When the address would qualify, the answer says
 * that no message with it was found in the window of active threads (R-35, R-36).
 */
async function explainAddress(ctx: ServiceContext, seatId: string, rawAddress: string): Promise<DecisionView | null> {
  let mailbox;
  try {
    mailbox = await loadSeatMailbox(ctx.db, seatId);
  } catch {
    return null; // never authorized: nothing was synced, nothing to explain
  }
  const address = normalizeAddress(rawAddress);
  const now = ctx.clock.now();
  const candidates = await new CandidateCache(ctx.db).lookupFor(mailbox.contractId, mailbox.holderUserId);
  const decision = decideIngestion(
    { from: address, to: mailbox.owner.address, date: now, isSpam: false, isDraft: false, isSent: false },
    { owner: mailbox.owner, candidatesByAddress: candidates, threadInitiatedThroughProduct: false, threadLastActivityAt: now, sync: { kind: 'incremental', now } },
  );
  const summary = decision.ingested
    ? `No email with ${address} was found in your mailbox within the sync window, or its conversation had no activity in the last six months (R-35, R-36). Mail with this address would be synced.`
    : `No email with ${address} is synced: ${describeDecision(decision)}`;
  return {
    providerMessageId: null,
    threadId: null,
    providerThreadId: null,
    decidedAt: now,
    ingested: false,
    rule: decision.ingested ? null : decision.rule,
    detail: { summary, addressOnly: true, counterpart: address, ruleTitle: ruleTitle(decision.rule) },
  };
}
