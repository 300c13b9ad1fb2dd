/**
 * SPEC §4, one function per rule id. Each answers 'allowed' or an Exclusion naming the rule, a reason in plain
 * words and the header facts it used (never body text: R-40). All are pure: time comes in through the context.
 *
 * Rules about "the counterpart" (R-31…R-34) are defined over every counterpart, so each is meaningful on its
 * own; R-30 guarantees there is exactly one by the time `decideIngestion` asks them.
 */
import { domainOf, normalizeAddress } from '../addresses.ts';
import type { AuthorizationState, EmailDiscovery } from '../types.ts';
import { activityCutoff, isThreadActive } from './calendar.ts';
import { candidatesFor, participantsOf, removedAddressesOf, type Participants } from './participants.ts';
import type { CandidateMatch, IngestionContext, IngestionRuleId, MessageHeaders, NetworkDegree, RuleResult } from './types.ts';

export const RULE_TITLES: Readonly<Record<IngestionRuleId, string>> = {
  'R-30': 'Two participants only',
  'R-31': 'Internal mail',
  'R-32': 'Pipeline',
  'R-33': 'Matching profile',
  'R-34': 'Discovery setting',
  'R-35': 'Sync window',
  'R-36': 'Active threads only',
  'R-37': 'Deleted at the source',
  'R-38': 'Spam and drafts',
};

const NOT_FROM_PRODUCT = 'and the conversation was not started from the product';
const ONE_TO_ONE = 'only one-to-one email between you and one other person is synced';

/** Dates in reasons: the day when the instant is midnight UTC, else down to the minute (or second). */
export function formatInstant(date: Date): string {
  const iso = date.toISOString();
  if (iso.endsWith('T00:00:00.000Z')) return iso.slice(0, 10);
  const seconds = iso.slice(17, 23) === '00.000' ? '' : `:${iso.slice(17, 19)}`;
  return `${iso.slice(0, 10)} ${iso.slice(11, 16)}${seconds} UTC`;
}

const iso = (date: Date | null): string | null => (date === null || Number.isNaN(date.getTime()) ? null : date.toISOString());

// ---------------------------------------------------------------------------------------------------------
// R-38 Spam and drafts are never ingested.

export function r38SpamAndDrafts(message: Pick<MessageHeaders, 'isSpam' | 'isDraft'>): RuleResult {
  if (!message.isSpam && !message.isDraft) return 'allowed';
  const facts = { isSpam: message.isSpam, isDraft: message.isDraft };
  const reason = message.isSpam ? 'It is in your Spam folder: spam is never synced.' : 'It is a draft that has not been sent: drafts are never synced.';
  return { rule: 'R-38', reason, facts };
}

// ---------------------------------------------------------------------------------------------------------
// R-37 Deleted at the source.

/** A message found in Trash / Deleted Items is already deleted in the mail client, so it is not ingested. */
export function r37InTrash(message: Pick<MessageHeaders, 'isTrashed'>): RuleResult {
  if (message.isTrashed !== true) return 'allowed';
  return { rule: 'R-37', reason: 'It is in your Trash (Deleted Items): email deleted in your mailbox is not synced.', facts: { isTrashed: true } };
}

export interface DeletionAtSource {
  /** The seat's email authorization state when the deletion is processed. */
  readonly authorizationState: AuthorizationState;
  /** Start of the current authorization (last authorized at). */
  readonly authorizedAt: Date | null;
  /** When the mailbox deletion happened, if the provider says; null when unknown. */
  readonly deletedAt: Date | null;
  /**
   * Set when the sync knows by position that the deletion predates this authorization, although its time is
   * unknown: e.g. a deletion read from history at or before the mailbox's history id at re-authorization.
   */
  readonly madeWhileDeauthorized?: boolean;
}

export interface DeletionDecision {
  readonly mirror: boolean;
  /** R-37 when the deletion is mirrored; R-22 when it is not (made or seen outside an authorization). */
  readonly rule: 'R-37' | 'R-22';
  readonly reason: string;
  readonly facts: Readonly<Record<string, string | boolean | null>>;
}

/**
 * R-37 with R-22: a deletion in the mailbox (moved to Trash / Deleted Items, or deleted for good) is mirrored
 * only if it was made while the seat is authorized. A seat that is deauthorized or needs re-authorization
 * syncs nothing, deletions included; a deletion made before the current authorization began stays unmirrored.
 */
export function r37DeletedAtSource(input: DeletionAtSource): DeletionDecision {
  const facts = {
    authorizationState: input.authorizationState,
    authorizedAt: iso(input.authorizedAt),
    deletedAt: iso(input.deletedAt),
    madeWhileDeauthorized: input.madeWhileDeauthorized === true,
  };
  if (input.authorizationState !== 'authorized') {
    return { mirror: false, rule: 'R-22', reason: 'The mailbox is not authorized: deletions made in it are not propagated to the product.', facts };
  }
  const before =
    input.madeWhileDeauthorized === true ||
    (input.deletedAt !== null && input.authorizedAt !== null && input.deletedAt.getTime() < input.authorizedAt.getTime());
  if (before) {
    return { mirror: false, rule: 'R-22', reason: 'It was deleted in the mailbox while it was not authorized: such deletions are not propagated.', facts };
  }
  return { mirror: true, rule: 'R-37', reason: 'It was deleted in your mailbox while it was authorized, so it is removed from the product too.', facts };
}

// ---------------------------------------------------------------------------------------------------------
// R-35 Window: during a historical sync only messages dated on or after the window start.

export function r35Window(message: Pick<MessageHeaders, 'date'>, context: Pick<IngestionContext, 'sync'>): RuleResult {
  const { sync } = context;
  if (sync.kind !== 'historical') return 'allowed';
  if (message.date.getTime() >= sync.windowStart.getTime()) return 'allowed';
  const dated = Number.isNaN(message.date.getTime()) ? 'It has no valid date' : `It is dated ${formatInstant(message.date)}`;
  return {
    rule: 'R-35',
    reason: `${dated}, before your sync window starts (${formatInstant(sync.windowStart)}): looking back, only email from the year before you connected your mailbox is fetched.`,
    facts: { syncKind: sync.kind, messageDate: iso(message.date), windowStart: iso(sync.windowStart) },
  };
}

// ---------------------------------------------------------------------------------------------------------
// R-36 Active threads only: activity within the six calendar months before the sync.

export function r36ActiveThread(message: Pick<MessageHeaders, 'date'>, context: Pick<IngestionContext, 'sync' | 'threadLastActivityAt'>): RuleResult {
  const { sync } = context;
  if (sync.kind !== 'historical') return 'allowed';
  // The message is itself activity of its thread, so it bounds an unknown or stale thread date from below.
  const known = [context.threadLastActivityAt?.getTime(), message.date.getTime()].filter((t): t is number => t !== undefined && !Number.isNaN(t));
  const lastActivity = known.length === 0 ? null : new Date(Math.max(...known));
  if (lastActivity !== null && isThreadActive(lastActivity, sync.now)) return 'allowed';
  const cutoff = activityCutoff(sync.now);
  const last = lastActivity === null ? 'unknown' : formatInstant(lastActivity);
  return {
    rule: 'R-36',
    reason: `Its conversation had no activity in the six months before the sync (last activity ${last}; the six months began ${formatInstant(cutoff)}): only active conversations are imported.`,
    facts: { syncKind: sync.kind, threadLastActivityAt: iso(lastActivity), activityCutoff: cutoff.toISOString(), now: sync.now.toISOString() },
  };
}

// ---------------------------------------------------------------------------------------------------------
// R-30 Two participants only.

export function r30TwoParticipants(message: Pick<MessageHeaders, 'from' | 'to' | 'cc' | 'bcc'>, context: Pick<IngestionContext, 'owner'>): RuleResult {
  return checkTwoParticipants(participantsOf(message, context.owner));
}

export function checkTwoParticipants(p: Participants): RuleResult {
  if (p.addresses.length <= 2 && p.counterparts.length === 1) return 'allowed';
  const facts = {
    addresses: p.addresses,
    addressCount: p.addresses.length,
    ownerAddresses: p.ownerAddresses,
    counterparts: p.counterparts,
    counterpartCount: p.counterparts.length,
  };
  let reason: string;
  if (p.addresses.length > 2) {
    reason = `It has ${p.addresses.length} different addresses (${p.addresses.join(', ')}): ${ONE_TO_ONE}.`;
  } else if (p.addresses.length === 0) {
    reason = `It has no readable address: ${ONE_TO_ONE}.`;
  } else if (p.counterparts.length === 0) {
    reason = `Every address on it is one of your own (${p.ownerAddresses.join(', ')}), so there is no other person: ${ONE_TO_ONE}.`;
  } else {
    reason = `None of your addresses is among its visible participants, which are ${p.counterparts.length} other people (${p.counterparts.join(', ')}): ${ONE_TO_ONE}.`;
  }
  return { rule: 'R-30', reason, facts };
}

// ---------------------------------------------------------------------------------------------------------
// R-31 Internal mail: the counterpart shares the domain of the seat's authorized address.
//
// "Shares the domain" is an exact, case-insensitive match of the domain. A subdomain (eu.acme.com for a seat at
// acme.com) or a parent domain is a different domain: the product cannot tell a company's subdomain from a
// customer or candidate hosted under a shared parent, and the SPEC names the authorized address's own domain.
// The domains of aliases do not count either; SPEC names the authorized address only.

export function r31InternalMail(message: Pick<MessageHeaders, 'from' | 'to' | 'cc' | 'bcc'>, context: Pick<IngestionContext, 'owner'>): RuleResult {
  return checkInternalMail(participantsOf(message, context.owner), context);
}

export function checkInternalMail(p: Participants, context: Pick<IngestionContext, 'owner'>): RuleResult {
  const ownerDomain = domainOf(normalizeAddress(context.owner.address));
  const internal = p.counterparts.find((c) => ownerDomain !== '' && domainOf(c) === ownerDomain);
  if (internal === undefined) return 'allowed';
  return {
    rule: 'R-31',
    reason: `${internal} is at ${ownerDomain}, the same domain as your connected mailbox: email within your own domain is not synced.`,
    facts: { counterpart: internal, counterpartDomain: domainOf(internal), ownerDomain },
  };
}

// ---------------------------------------------------------------------------------------------------------
// R-33 Matching profile / R-32 Pipeline / R-34 Discovery setting — all three waived for threads initiated
// through the product: the recruiter supplied the address, nothing was discovered.

type CandidateContext = Pick<IngestionContext, 'owner' | 'candidatesByAddress' | 'threadInitiatedThroughProduct'>;

export function r33MatchingProfile(message: Pick<MessageHeaders, 'from' | 'to' | 'cc' | 'bcc'>, context: CandidateContext): RuleResult {
  return checkMatchingProfile(participantsOf(message, context.owner), context);
}

/** the counterpart matches no candidate email in the contract at all. */
export function checkMatchingProfile(p: Participants, context: CandidateContext): RuleResult {
  // An address removed from the profile (and on no other) stops syncing, even in a conversation started from the product.
  const removed = removedAddressesOf(context.candidatesByAddress);
  const dropped = removed === undefined ? undefined : p.counterparts.find((c) => removed.has(c) && candidatesFor(context.candidatesByAddress, c).length === 0);
  if (dropped !== undefined) {
    const at = removed!.get(dropped)!;
    return {
      rule: 'R-33',
      reason: `${dropped} was removed from the candidate's profile on ${formatInstant(at)}, so email with it is no longer synced.`,
      facts: { counterpart: dropped, candidateIds: [], removedFromProfileAt: iso(at), threadInitiatedThroughProduct: context.threadInitiatedThroughProduct },
    };
  }
  if (context.threadInitiatedThroughProduct) return 'allowed';
  const unknown = p.counterparts.find((c) => candidatesFor(context.candidatesByAddress, c).length === 0);
  if (unknown === undefined) return 'allowed';
  return {
    rule: 'R-33',
    reason: `${unknown} does not match the email of any candidate, ${NOT_FROM_PRODUCT}.`,
    facts: { counterpart: unknown, candidateIds: [], threadInitiatedThroughProduct: false },
  };
}

export function r32Pipeline(message: Pick<MessageHeaders, 'from' | 'to' | 'cc' | 'bcc'>, context: CandidateContext): RuleResult {
  return checkPipeline(participantsOf(message, context.owner), context);
}

/**
 * the counterpart is not an email of a candidate in the pipeline. On its own this also catches an
 * address of no candidate at all; in the decision R-33 is asked first, so R-32 names what is left: the address
 * matches candidates, none of whom an active project holds.
 */
export function checkPipeline(p: Participants, context: CandidateContext): RuleResult {
  if (context.threadInitiatedThroughProduct) return 'allowed';
  for (const counterpart of p.counterparts) {
    const matches = candidatesFor(context.candidatesByAddress, counterpart);
    if (matches.some((m) => m.inPipeline)) continue;
    const who = matches.length === 0 ? 'does not match the email of any candidate' : `is the email of ${matches.length === 1 ? 'a candidate who is' : 'candidates who are'} not in your pipeline (no active project holds them)`;
    return {
      rule: 'R-32',
      reason: `${counterpart} ${who}, ${NOT_FROM_PRODUCT}.`,
      facts: { counterpart, candidateIds: matches.map((m) => m.candidateId), inPipeline: false, threadInitiatedThroughProduct: false },
    };
  }
  return 'allowed';
}

/** R-34 table: `anyone` always; `second_degree` 1st or 2nd degree; `first_degree` connected only; `nobody` never. */
export function discoveryAdmits(setting: EmailDiscovery, degree: NetworkDegree): boolean {
  switch (setting) {
    case 'anyone':
      return true;
    case 'second_degree':
      return degree === 1 || degree === 2;
    case 'first_degree':
      return degree === 1;
    case 'nobody':
      return false;
  }
}

const DISCOVERY_WORDS: Readonly<Record<EmailDiscovery, string>> = {
  anyone: 'anyone',
  second_degree: '1st- and 2nd-degree connections only',
  first_degree: '1st-degree connections only',
  nobody: 'nobody',
};

const degreeWords = (degree: NetworkDegree): string =>
  degree === 1 ? 'a 1st-degree connection' : degree === 2 ? 'a 2nd-degree connection' : degree === 3 ? 'a 3rd-degree or more distant connection' : 'not connected';

export function r34DiscoverySetting(message: Pick<MessageHeaders, 'from' | 'to' | 'cc' | 'bcc'>, context: CandidateContext): RuleResult {
  return checkDiscoverySetting(participantsOf(message, context.owner), context);
}

/**
 * R-34, asked of the counterpart's pipeline candidates (R-32 has passed): at least one of them must admit the
 * seat holder. Several candidates share an address only through duplicate profiles; any one admitting is enough.
 */
export function checkDiscoverySetting(p: Participants, context: CandidateContext): RuleResult {
  if (context.threadInitiatedThroughProduct) return 'allowed';
  for (const counterpart of p.counterparts) {
    const inPipeline = candidatesFor(context.candidatesByAddress, counterpart).filter((m) => m.inPipeline);
    if (inPipeline.length === 0 || inPipeline.some((m) => discoveryAdmits(m.emailDiscovery, m.ownerDegree))) continue;
    return {
      rule: 'R-34',
      reason: `${counterpart} ${discoveryPhrase(inPipeline)}, ${NOT_FROM_PRODUCT}.`,
      facts: {
        counterpart,
        candidateIds: inPipeline.map((m) => m.candidateId),
        emailDiscovery: inPipeline.map((m) => m.emailDiscovery),
        ownerDegree: inPipeline.map((m) => m.ownerDegree),
        threadInitiatedThroughProduct: false,
      },
    };
  }
  return 'allowed';
}

function discoveryPhrase(candidates: readonly CandidateMatch[]): string {
  const [only] = candidates;
  if (candidates.length === 1 && only !== undefined) {
    return `belongs to a candidate whose email discovery setting allows ${DISCOVERY_WORDS[only.emailDiscovery]}, and you are ${degreeWords(only.ownerDegree)}`;
  }
  return `belongs to ${candidates.length} candidate profiles, none of whose email discovery settings allows you`;
}
