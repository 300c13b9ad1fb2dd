import type { Degree, Discovery, Expected, GeneratedCandidate, GeneratedMailbox, GeneratedMessage, Rule } from './types.ts';

/**
 * The expected outcome of SPEC §4 for every generated message, computed from how the generator built it
 * (who each address belongs to, which candidate, which folder, which date), never from product code.
 *
 * A scenario is one historical sync: the seat authorized at `authorizedAt` (the sync runs then unless
 * `syncAt` says otherwise) and first authorized at `firstAuthorizedAt`.
 */
export interface Scenario {
  authorizedAt: Date;
  firstAuthorizedAt: Date;
  /** When the historical sync looks at the mailbox (R-36 counts six months back from here). Default authorizedAt. */
  syncAt?: Date;
  /** seats first authorized before this instant get `legacyWindowStart`. Default 2025-02-05. */
  legacyCutoff?: Date;
  /** Default 2024-02-06. */
  legacyWindowStart?: Date;
  /** Threads initiated through the product: exempt from. */
  productInitiatedThreads?: ReadonlySet<string>;
  /** Changes to candidates since generation (e.g. added to the pipeline later, R-39). */
  candidateOverrides?: Readonly<Record<string, Partial<Pick<GeneratedCandidate, 'membership' | 'discovery' | 'degree'>>>>;
  /** Order in which rules are evaluated; default DEFAULT_RULE_ORDER. */
  ruleOrder?: readonly Rule[];
}

export const DEFAULT_LEGACY_CUTOFF = new Date('2025-02-05T00:00:00.000Z');
export const DEFAULT_LEGACY_WINDOW_START = new Date('2024-02-06T00:00:00.000Z');

/**
 * Mailbox-scope rules first (what a historical sync excludes before reading any address: the folder,
 * the date window, the thread's activity), then the participant rules in SPEC order, except that R-33
 * (no candidate at all) is checked before R-32 (a candidate, but not in the pipeline): every address
 * that fails R-33 also fails R-32, so in the listed order R-33 could never decide anything.
 */
export const DEFAULT_RULE_ORDER: readonly Rule[] = ['R-38', 'R-35', 'R-36', 'R-30', 'R-31', 'R-33', 'R-32', 'R-34'];
const PARTICIPANT_RULES: ReadonlySet<Rule> = new Set<Rule>(['R-30', 'R-31', 'R-32', 'R-33', 'R-34']);

/** Calendar-month arithmetic in UTC; the day is clamped to the target month (Aug 31 − 6 months = Feb 28/29). */
export function addCalendarMonths(date: Date, months: number): Date {
  const y = date.getUTCFullYear();
  const m = date.getUTCMonth() + months;
  const targetYear = y + Math.floor(m / 12);
  const targetMonth = ((m % 12) + 12) % 12;
  const lastDay = new Date(Date.UTC(targetYear, targetMonth + 1, 0)).getUTCDate();
  return new Date(
    Date.UTC(
      targetYear,
      targetMonth,
      Math.min(date.getUTCDate(), lastDay),
      date.getUTCHours(),
      date.getUTCMinutes(),
      date.getUTCSeconds(),
      date.getUTCMilliseconds(),
    ),
  );
}

/** this authorization minus one calendar year, or the legacy start for seats first authorized before the cut-off. */
export function windowStart(scenario: Scenario): Date {
  const cutoff = scenario.legacyCutoff ?? DEFAULT_LEGACY_CUTOFF;
  if (scenario.firstAuthorizedAt.getTime() < cutoff.getTime()) return scenario.legacyWindowStart ?? DEFAULT_LEGACY_WINDOW_START;
  return addCalendarMonths(scenario.authorizedAt, -12);
}

export function syncTime(scenario: Scenario): Date {
  return scenario.syncAt ?? scenario.authorizedAt;
}

/** a thread is active when it had a message sent or received on or after this instant (six calendar months before the sync). */
export function activityCutoff(scenario: Scenario): Date {
  return addCalendarMonths(syncTime(scenario), -6);
}

export function defaultScenario(now: Date): Scenario {
  return { authorizedAt: now, firstAuthorizedAt: now };
}

/** does the candidate's discovery setting admit a seat holder at this degree? */
export function discoveryAdmits(discovery: Discovery, degree: Degree): boolean {
  switch (discovery) {
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

function domainOf(address: string): string {
  return address.slice(address.lastIndexOf('@') + 1).toLowerCase();
}

/** A message "sent or received" counts as thread activity: spam was received; a draft was never sent. */
function isActivity(message: GeneratedMessage): boolean {
  return message.folder !== 'drafts';
}

/** The expected outcome of every message of the mailbox under `scenario`, by message key. */
export function oracle(mailbox: GeneratedMailbox, scenario: Scenario): Map<string, Expected> {
  const order = scenario.ruleOrder ?? DEFAULT_RULE_ORDER;
  const sync = syncTime(scenario).getTime();
  const start = windowStart(scenario).getTime();
  const activeFrom = activityCutoff(scenario).getTime();
  const ownerDomain = domainOf(mailbox.owner.address);
  const candidates = new Map<string, GeneratedCandidate>();
  for (const c of mailbox.candidates) candidates.set(c.key, { ...c, ...scenario.candidateOverrides?.[c.key] });

  // Thread activity as the historical sync sees it: messages sent or received up to the sync.
  const activeThreads = new Set<string>();
  for (const m of mailbox.messages) {
    const t = Date.parse(m.date);
    if (isActivity(m) && t <= sync && t >= activeFrom) activeThreads.add(m.threadKey);
  }

  const participantRule = (m: GeneratedMessage): Rule | null => {
    const exempt = scenario.productInitiatedThreads?.has(m.threadKey) ?? false;
    const counterparts = m.people.filter((p) => p.kind !== 'owner');
    const failing = new Set<Rule>();
    if (m.addressCount > 2 || counterparts.length !== 1) {
      failing.add('R-30');
    } else {
      const cp = counterparts[0]!;
      if (domainOf(cp.address) === ownerDomain) failing.add('R-31');
      if (!exempt) {
        if (cp.kind !== 'candidate') {
          // Not a candidate at all: no profile, hence not in the pipeline either.
          failing.add('R-33');
          failing.add('R-32');
        } else {
          const candidate = candidates.get(cp.candidateKey);
          if (!candidate) throw new Error(`message ${m.key} names unknown candidate ${cp.candidateKey}`);
          if (candidate.membership !== 'active') failing.add('R-32');
          if (!discoveryAdmits(candidate.discovery, candidate.degree)) failing.add('R-34');
        }
      }
    }
    // The participant rules form one chain (R-31…R-34 speak of "the" counterpart, so R-30 comes first):
    // the first failing one in the configured order decides, the rest are its consequences.
    if (failing.has('R-30')) return 'R-30';
    for (const rule of order) if (PARTICIPANT_RULES.has(rule) && failing.has(rule)) return rule;
    return null;
  };

  const result = new Map<string, Expected>();
  for (const m of mailbox.messages) {
    const t = Date.parse(m.date);
    const historical = t <= sync; // later messages arrive through incremental sync: no window, their thread is active
    const reasons = new Set<Rule>();
    if (m.folder === 'spam' || m.folder === 'drafts') reasons.add('R-38');
    if (historical && t < start) reasons.add('R-35');
    if (historical && !activeThreads.has(m.threadKey)) reasons.add('R-36');
    const participant = participantRule(m);
    if (participant) reasons.add(participant);
    const failing = order.filter((r) => reasons.has(r));
    if (failing.length !== reasons.size) throw new Error(`rule order ${order.join(',')} misses one of ${[...reasons].join(',')}`);
    result.set(m.key, { ingested: failing.length === 0, rule: failing[0] ?? null, failing });
  }
  return result;
}
