/** The ingestion decision (SPEC §4): every rule in a fixed order; the first that objects decides. */
import { candidatesFor, participantsOf } from './participants.ts';
import {
  RULE_TITLES,
  checkDiscoverySetting,
  checkInternalMail,
  checkMatchingProfile,
  checkPipeline,
  checkTwoParticipants,
  r35Window,
  r36ActiveThread,
  r37InTrash,
  r38SpamAndDrafts,
} from './rules.ts';
import type { Exclusion, IngestionContext, IngestionDecision, IngestionRuleId, MessageHeaders, RuleResult } from './types.ts';

/**
 * Evaluation order, and why:
 * 1. R-38 spam/drafts and R-37 trash: they never count as mail at all, whatever their participants; read from
 *    folder flags alone, so nothing else about such a message is examined or logged.
 * 2. R-35 window, R-36 active thread (historical syncs only): dates alone, and the sync uses them as list
 *    filters so out-of-window mail is never fetched; the log must name them, not a participant rule.
 * 3. R-30 two participants: it establishes "the counterpart" that every later rule speaks about.
 * 4. R-31 internal mail: a colleague is internal even when a candidate profile carries the same address, and
 *    R-31 binds threads initiated through the product too, so it precedes the rules they are exempt from.
 * 5. R-33 matching profile before R-32 pipeline: "matches no candidate at all" is the more basic reason; R-32
 *    then names an address whose candidates are all outside the pipeline.
 * 6. R-34 discovery setting last: it needs the matched pipeline candidate's setting and the seat's degree.
 * are waived for threads initiated through the product; …R-38 are not.
 */
export const INGESTION_EVALUATION_ORDER: readonly IngestionRuleId[] = ['R-38', 'R-37', 'R-35', 'R-36', 'R-30', 'R-31', 'R-33', 'R-32', 'R-34'];

const isExclusion = (result: RuleResult): result is Exclusion => result !== 'allowed';

const excluded = (exclusion: Exclusion): IngestionDecision => ({ ingested: false, rule: exclusion.rule, reason: exclusion.reason, facts: exclusion.facts });

/**
 * Decides one message from its header facts. The facts of the decision are built field by field from header
 * facts and the context — never spread from the message — so no body text can reach the decision log.
 */
export function decideIngestion(message: MessageHeaders, context: IngestionContext): IngestionDecision {
  for (const result of [r38SpamAndDrafts(message), r37InTrash(message), r35Window(message, context), r36ActiveThread(message, context)]) {
    if (isExclusion(result)) return excluded(result);
  }
  const participants = participantsOf(message, context.owner);
  const checks = [checkTwoParticipants, checkInternalMail, checkMatchingProfile, checkPipeline, checkDiscoverySetting] as const;
  for (const check of checks) {
    const result = check(participants, context);
    if (isExclusion(result)) return excluded(result);
  }

  const counterpart = participants.counterparts[0] ?? '';
  const matches = candidatesFor(context.candidatesByAddress, counterpart);
  // Exempt threads attach to whichever profiles carry the address; otherwise to the pipeline candidates R-34 admitted.
  const candidateIds = context.threadInitiatedThroughProduct ? matches.map((m) => m.candidateId) : matches.filter((m) => m.inPipeline).map((m) => m.candidateId);
  const reason = context.threadInitiatedThroughProduct
    ? `One-to-one email with ${counterpart} in a conversation started from the product.`
    : `One-to-one email with ${counterpart}, a candidate in your pipeline whose email discovery setting includes you.`;
  return {
    ingested: true,
    rule: null,
    reason,
    facts: {
      counterpart,
      candidateIds,
      threadInitiatedThroughProduct: context.threadInitiatedThroughProduct,
      direction: message.isSent ? 'sent' : 'received',
      syncKind: context.sync.kind,
      messageDate: Number.isNaN(message.date.getTime()) ? null : message.date.toISOString(),
    },
  };
}

/** The plain-words answer to "why is (or isn't) this email here?", as the UI and the decisions API show it. */
export function describeDecision(decision: Pick<IngestionDecision, 'ingested' | 'rule' | 'reason'>): string {
  if (decision.ingested || decision.rule === null) return `Synced: ${decision.reason}`;
  return `Not synced (${decision.rule}, ${RULE_TITLES[decision.rule]}): ${decision.reason}`;
}
