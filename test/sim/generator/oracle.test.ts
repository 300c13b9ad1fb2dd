import { describe, expect, it } from 'vitest';
import {
  activityCutoff,
  addCalendarMonths,
  oracle,
  windowStart,
  type GeneratedMailbox,
  type Rule,
  type Scenario,
} from '../../../sim/generator/index.ts';
import { generate, NOW } from './fixtures.ts';

const tiny = generate('tiny');
const byKey = new Map(tiny.messages.map((m) => [m.key, m]));
const at = (key: string): Date => new Date(byKey.get(key)!.date);

function rulesOf(mailbox: GeneratedMailbox, scenario: Scenario): Record<string, Rule | null> {
  return Object.fromEntries([...oracle(mailbox, scenario)].map(([k, e]) => [k, e.rule]));
}

describe('calendar arithmetic', () => {
  it('subtracts calendar months and years, clamping the day', () => {
    expect(addCalendarMonths(new Date('2025-08-31T10:00:00Z'), -6).toISOString()).toBe('2025-02-28T10:00:00.000Z');
    expect(addCalendarMonths(new Date('2024-08-31T10:00:00Z'), -6).toISOString()).toBe('2024-02-29T10:00:00.000Z');
    expect(addCalendarMonths(new Date('2024-02-29T00:00:00Z'), -12).toISOString()).toBe('2023-02-28T00:00:00.000Z');
    expect(addCalendarMonths(new Date('2025-01-15T00:00:00Z'), -14).toISOString()).toBe('2023-11-15T00:00:00.000Z');
    expect(addCalendarMonths(new Date('2025-12-01T12:00:00Z'), -6).toISOString()).toBe('2025-06-01T12:00:00.000Z');
  });

  it('R-35 window: one calendar year before this authorization, or 2024-02-06 for seats first authorized before 2025-02-05', () => {
    expect(windowStart({ authorizedAt: NOW, firstAuthorizedAt: NOW }).toISOString()).toBe('2024-06-15T12:00:00.000Z');
    expect(windowStart({ authorizedAt: NOW, firstAuthorizedAt: new Date('2025-02-04T23:59:59Z') }).toISOString()).toBe('2024-02-06T00:00:00.000Z');
    expect(windowStart({ authorizedAt: NOW, firstAuthorizedAt: new Date('2025-02-05T00:00:00Z') }).toISOString()).toBe('2024-06-15T12:00:00.000Z');
    // Both cut-off dates are configuration.
    const custom = { legacyCutoff: new Date('2025-06-01T00:00:00Z'), legacyWindowStart: new Date('2024-09-01T00:00:00Z') };
    expect(windowStart({ authorizedAt: NOW, firstAuthorizedAt: new Date('2025-05-01T00:00:00Z'), ...custom }).toISOString()).toBe('2024-09-01T00:00:00.000Z');
    expect(activityCutoff({ authorizedAt: new Date('2025-08-31T00:00:00Z'), firstAuthorizedAt: NOW }).toISOString()).toBe('2025-02-28T00:00:00.000Z');
  });
});

describe('oracle on the tiny mailbox (hand-checked)', () => {
  // Authorized at NOW (2025-06-15), first authorization then too: window 2024-06-15, active since 2024-12-15.
  const expected: Record<string, Rule | null> = {
    'tiny-01': null, // sent to the candidate's stored `+tag` mixed-case address: one counterpart, pipeline, discovery anyone
    'tiny-02': null, // reply from the plain form of the same address to the owner's alias: still the same two people
    'tiny-03': 'R-30', // a colleague in Cc: three addresses
    'tiny-04': 'R-38', // an unsent draft to the candidate
    'tiny-05': null, // HTML only, attachment, RFC 2047 subject; discovery second_degree, owner at degree 1
    'tiny-06': null, // the owner's reply
    'tiny-07': null, // discovery anyone admits an owner with no connection at all
    'tiny-08': 'R-34', // first_degree, owner is 2nd degree
    'tiny-09': 'R-34', // nobody
    'tiny-10': 'R-32', // candidate only in the talent pool
    'tiny-11': 'R-32', // candidate only in a closed project
    'tiny-12': 'R-31', // colleague at the owner's domain writes
    'tiny-13': 'R-31', // owner answers the colleague
    'tiny-14': 'R-30', // candidate with a colleague in Cc
    'tiny-15': 'R-33', // notification from a service: no candidate matches
    'tiny-16': 'R-33', // notification to the alias
    'tiny-17': 'R-33', // an agency recruiter: one-to-one but no candidate
    'tiny-18': 'R-38', // a pipeline candidate's mail filed as spam
    'tiny-19': 'R-36', // ~8 months old, inside the window, thread quiet since
    'tiny-20': 'R-36', // same thread
    'tiny-21': 'R-35', // 400 days old, though its thread is active
    'tiny-22': null, // the recent reply in that thread
    'tiny-23': 'R-30', // note to self: no counterpart
    'tiny-24': 'R-35', // 420 days old in a dead thread, the window is checked first
    'tiny-25': 'R-36', // colleague mail 300 days old, thread activity is checked first
    'tiny-26': 'R-30', // sent to a candidate with a colleague in Bcc
  };

  it('matches every hand-written expectation', () => {
    expect(Object.keys(expected).length).toBe(tiny.messages.length);
    const actual = Object.fromEntries(tiny.messages.map((m) => [m.key, m.expected.rule]));
    expect(actual).toEqual(expected);
    for (const m of tiny.messages) expect(m.expected.ingested).toBe(expected[m.key] === null);
  });

  it('lists every independent reason for the two messages where reasons meet, and one for all others', () => {
    expect(byKey.get('tiny-24')!.expected.failing).toEqual(['R-35', 'R-36']);
    expect(byKey.get('tiny-25')!.expected.failing).toEqual(['R-36', 'R-31']);
    for (const m of tiny.messages) if (m.key !== 'tiny-24' && m.key !== 'tiny-25') expect(m.expected.failing.length).toBeLessThanOrEqual(1);
  });

  it('a different rule order changes only which reason is named, never whether the message is ingested', () => {
    const reversed: Rule[] = ['R-30', 'R-31', 'R-33', 'R-32', 'R-34', 'R-35', 'R-36', 'R-38'];
    const result = oracle(tiny, { authorizedAt: NOW, firstAuthorizedAt: NOW, ruleOrder: reversed });
    expect(result.get('tiny-25')!.rule).toBe('R-31');
    expect(result.get('tiny-24')!.rule).toBe('R-35');
    for (const m of tiny.messages) expect(result.get(m.key)!.ingested).toBe(m.expected.ingested);
  });
});

describe('scenarios shift the oracle', () => {
  const base = rulesOf(tiny, { authorizedAt: NOW, firstAuthorizedAt: NOW });

  it('legacy window: a seat first authorized before 2025-02-05 syncs from 2024-02-06', () => {
    const legacy = rulesOf(tiny, { authorizedAt: NOW, firstAuthorizedAt: new Date('2024-11-01T00:00:00Z') });
    expect(legacy['tiny-21']).toBeNull(); // 2024-05-11 is after 2024-02-06, and its thread is active
    expect(legacy['tiny-24']).toBe('R-36'); // inside the legacy window now, but its thread is dead
    expect({ ...legacy, 'tiny-21': base['tiny-21'], 'tiny-24': base['tiny-24'] }).toEqual(base);
  });

  it('the legacy window start is inclusive and configurable', () => {
    const start = at('tiny-21');
    const onStart = oracle(tiny, { authorizedAt: NOW, firstAuthorizedAt: new Date('2024-11-01T00:00:00Z'), legacyWindowStart: start });
    expect(onStart.get('tiny-21')!.rule).toBeNull();
    const afterIt = oracle(tiny, { authorizedAt: NOW, firstAuthorizedAt: new Date('2024-11-01T00:00:00Z'), legacyWindowStart: new Date(start.getTime() + 1000) });
    expect(afterIt.get('tiny-21')!.rule).toBe('R-35');
  });

  it('re-authorization more than six months later: the window follows the new authorization, unless the seat is a legacy seat', () => {
    // First authorized 2025-03-01 (not legacy), deauthorized, re-authorized 2025-12-01: window 2024-12-01,
    // active since 2025-06-01T12:00 (six calendar months; 182 days would give 2025-06-02).
    const later = new Date('2025-12-01T12:00:00Z');
    const reauth = rulesOf(tiny, { authorizedAt: later, firstAuthorizedAt: new Date('2025-03-01T00:00:00Z') });
    expect(reauth['tiny-19']).toBe('R-35'); // Oct 2024 is now before the window
    expect(reauth['tiny-21']).toBe('R-35');
    expect(reauth['tiny-22']).toBe('R-36'); // 2025-05-31: its thread went quiet before 2025-06-01
    expect(reauth['tiny-09']).toBe('R-34'); // 2025-06-01T12:00 exactly: still active, so the participant rule decides
    expect(reauth['tiny-08']).toBe('R-34');
    expect(reauth['tiny-01']).toBe('R-36'); // thread last active 2025-05-28
    expect(reauth['tiny-07']).toBeNull(); // 2025-06-10: active
    // The same re-authorization for a legacy seat keeps the 2024-02-06 window start.
    const legacy = rulesOf(tiny, { authorizedAt: later, firstAuthorizedAt: new Date('2024-11-01T00:00:00Z') });
    expect(legacy['tiny-19']).toBe('R-36');
    expect(legacy['tiny-21']).toBe('R-36');
  });

  it('R-36 counts six calendar months back from the sync, inclusive', () => {
    const last = at('tiny-07'); // the thread's only message
    const syncAt = addCalendarMonths(last, 6);
    expect(oracle(tiny, { authorizedAt: syncAt, firstAuthorizedAt: syncAt }).get('tiny-07')!.rule).toBeNull();
    const second = new Date(syncAt.getTime() + 1000);
    expect(oracle(tiny, { authorizedAt: second, firstAuthorizedAt: second }).get('tiny-07')!.rule).toBe('R-36');
  });

  it('messages after the sync arrive incrementally: no window, the new message is activity itself', () => {
    const early = new Date('2025-05-29T00:00:00Z'); // before tiny-22 (2025-05-31) and the June mail
    const rules = rulesOf(tiny, { authorizedAt: early, firstAuthorizedAt: early });
    expect(rules['tiny-21']).toBe('R-35');
    expect(rules['tiny-22']).toBeNull();
    expect(rules['tiny-07']).toBeNull();
  });

  it('a candidate added to the pipeline later and a product-initiated thread lift R-32/R-33/R-34', () => {
    const pool = byKey.get('tiny-10')!.people.find((p) => p.kind === 'candidate')!;
    expect(pool.kind).toBe('candidate');
    const key = pool.kind === 'candidate' ? pool.candidateKey : '';
    const added = oracle(tiny, { authorizedAt: NOW, firstAuthorizedAt: NOW, candidateOverrides: { [key]: { membership: 'active' } } });
    expect(added.get('tiny-10')!.rule).toBeNull();
    const initiated = new Set([byKey.get('tiny-17')!.threadKey, byKey.get('tiny-09')!.threadKey, byKey.get('tiny-12')!.threadKey]);
    const viaProduct = oracle(tiny, { authorizedAt: NOW, firstAuthorizedAt: NOW, productInitiatedThreads: initiated });
    expect(viaProduct.get('tiny-17')!.rule).toBeNull();
    expect(viaProduct.get('tiny-09')!.rule).toBeNull();
    expect(viaProduct.get('tiny-12')!.rule).toBe('R-31'); // R-31 has no such exemption
  });
});

// ---------------------------------------------------------------------------------------------------
// A second, header-based reading of SPEC §4 (addresses parsed from the generated header strings), to
// prove the generator built what it meant to build: both must agree on every message.

function addressesOf(header: string): string[] {
  const angle = /<([^>]+)>\s*$/.exec(header);
  return [(angle ? angle[1]! : header).trim()];
}

function norm(address: string): string {
  const lower = address.toLowerCase();
  const [local = '', domain = ''] = lower.split('@');
  return `${local.split('+')[0]}@${domain}`;
}

function headerReading(mailbox: GeneratedMailbox, scenario: Scenario): Map<string, Set<Rule>> {
  const owners = new Set([mailbox.owner.address, ...(mailbox.owner.aliases ?? [])].map(norm));
  const ownerDomain = mailbox.owner.address.split('@')[1]!.toLowerCase();
  const byEmail = new Map<string, (typeof mailbox.candidates)[number]>();
  for (const c of mailbox.candidates) for (const e of c.emails) byEmail.set(norm(e), c);
  const start = windowStart(scenario).getTime();
  const cutoff = activityCutoff(scenario).getTime();
  const sync = (scenario.syncAt ?? scenario.authorizedAt).getTime();
  const lastActivity = new Map<string, number>();
  for (const m of mailbox.messages) {
    const t = Date.parse(m.date);
    if (m.folder !== 'drafts' && t <= sync) lastActivity.set(m.threadKey, Math.max(lastActivity.get(m.threadKey) ?? 0, t));
  }
  const out = new Map<string, Set<Rule>>();
  for (const m of mailbox.messages) {
    const reasons = new Set<Rule>();
    const t = Date.parse(m.date);
    if (m.folder === 'spam' || m.folder === 'drafts') reasons.add('R-38');
    if (t <= sync && t < start) reasons.add('R-35');
    if (t <= sync && (lastActivity.get(m.threadKey) ?? 0) < cutoff) reasons.add('R-36');
    const all = new Set([m.from, ...m.to, ...m.cc, ...m.bcc].flatMap(addressesOf).map(norm));
    const counterparts = [...all].filter((a) => !owners.has(a));
    if (all.size > 2 || counterparts.length !== 1) reasons.add('R-30');
    else {
      const cp = counterparts[0]!;
      const candidate = byEmail.get(cp);
      if (cp.endsWith(`@${ownerDomain}`)) reasons.add('R-31');
      else if (!candidate) reasons.add('R-33');
      else if (candidate.membership !== 'active') reasons.add('R-32');
      else {
        const ok = candidate.discovery === 'anyone' || (candidate.discovery === 'second_degree' && (candidate.degree === 1 || candidate.degree === 2)) || (candidate.discovery === 'first_degree' && candidate.degree === 1);
        if (!ok) reasons.add('R-34');
      }
    }
    out.set(m.key, reasons);
  }
  return out;
}

describe('the oracle agrees with a reading of the headers', () => {
  const scenarios: Array<[string, Scenario]> = [
    ['authorized now', { authorizedAt: NOW, firstAuthorizedAt: NOW }],
    ['legacy seat', { authorizedAt: NOW, firstAuthorizedAt: new Date('2024-12-01T00:00:00Z') }],
    ['re-authorized later', { authorizedAt: new Date('2025-09-30T00:00:00Z'), firstAuthorizedAt: new Date('2025-03-01T00:00:00Z') }],
  ];
  const mailboxes: Array<[string, GeneratedMailbox]> = [
    ['tiny', tiny],
    ['demo', generate('demo')],
    ['3000, seed 7', generate(3000, { seed: 7 })],
  ];
  for (const [name, mailbox] of mailboxes) {
    it(`on the ${name} mailbox`, () => {
      for (const [, scenario] of scenarios) {
        const fromHeaders = headerReading(mailbox, scenario);
        const fromConstruction = oracle(mailbox, scenario);
        for (const m of mailbox.messages) {
          const e = fromConstruction.get(m.key)!;
          expect({ key: m.key, reasons: [...fromHeaders.get(m.key)!].sort() }).toEqual({ key: m.key, reasons: [...e.failing].sort() });
        }
      }
    });
  }

  it('on the benchmark mailbox, for the generation scenario', () => {
    const mailbox = generate('benchmark');
    const fromHeaders = headerReading(mailbox, { authorizedAt: NOW, firstAuthorizedAt: NOW });
    let mismatches = 0;
    for (const m of mailbox.messages) if ([...fromHeaders.get(m.key)!].sort().join() !== [...m.expected.failing].sort().join()) mismatches++;
    expect(mismatches).toBe(0);
  });
});
