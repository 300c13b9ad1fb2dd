import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  INGESTION_EVALUATION_ORDER,
  decideIngestion,
  describeDecision,
  participantsOf,
  r30TwoParticipants,
  r31InternalMail,
  r32Pipeline,
  r33MatchingProfile,
  r34DiscoverySetting,
  r35Window,
  r36ActiveThread,
  r37InTrash,
  r38SpamAndDrafts,
} from '../../../src/domain/ingestion/index.ts';
import type { AddressInput, IngestionContext, IngestionRuleId, MessageHeaders, RuleResult } from '../../../src/domain/ingestion/index.ts';
import { LOOKUP, NOW, OWNER, WINDOW_START } from './fixtures.ts';

// Normalized identities: the owner's addresses, a colleague, every kind of candidate, strangers.
const POOL = [
  'jane@acme.com', 'jane.doe@acme.com', 'talent@acme-talent.io', 'colleague@acme.com',
  'ann@example.org', 'ann.work@corp.net', 'bob@gmail.com', 'cat@closed.io', 'dan@mail.com', 'fay@example.net',
  'gus@eu.acme.com', 'hal@acme.com', 'ivy@dup.org', 'stranger@nowhere.org', 'x@eu.acme.com',
];
type Field = 'from' | 'to' | 'cc' | 'bcc';
const FIELDS: readonly Field[] = ['from', 'to', 'cc', 'bcc'];

/** How one address is written: its case, a +tag, a display name, the header it sits in. */
const cosmetics = fc.record({
  caseBits: fc.array(fc.boolean(), { minLength: 32, maxLength: 32 }),
  tag: fc.option(fc.stringMatching(/^[a-z0-9]{1,6}$/), { nil: null }),
  name: fc.option(fc.string({ unit: fc.constantFrom('A', 'b', ' ', ',', '"', '\\', '<', ';', ':', '('), maxLength: 10 }), { nil: null }),
  field: fc.constantFrom(...FIELDS),
});
type Cosmetics = typeof cosmetics extends fc.Arbitrary<infer T> ? T : never;

function write(address: string, c: Cosmetics): { text: string; name: string | null } {
  const [local = '', domain = ''] = address.split('@');
  const tagged = c.tag === null ? `${local}@${domain}` : `${local}+${c.tag}@${domain}`;
  const text = [...tagged].map((ch, i) => (c.caseBits[i % 32] ? ch.toUpperCase() : ch)).join('');
  return { text, name: c.name };
}

const quote = (name: string): string => `"${name.replace(/[\\"]/g, (ch) => `\\${ch}`)}"`;

/** Lays the identities out as headers: either header strings or Graph-style {name, address} lists. */
function render(identities: readonly string[], looks: readonly Cosmetics[], asObjects: boolean): Pick<MessageHeaders, Field> {
  const fields: Record<Field, AddressInput[]> = { from: [], to: [], cc: [], bcc: [] };
  identities.forEach((address, i) => {
    const look = looks[i] as Cosmetics;
    const { text, name } = write(address, look);
    fields[look.field].push(asObjects ? { name, address: text } : name === null ? text : `${quote(name)} <${text}>`);
  });
  const out = (list: AddressInput[]) => (asObjects ? list : list.map((a) => a as string).join(', '));
  return { from: out(fields.from), to: out(fields.to), cc: out(fields.cc), bcc: out(fields.bcc) };
}

const flags = fc.record({
  isSpam: fc.constantFrom(false, false, false, false, true),
  isDraft: fc.constantFrom(false, false, false, false, true),
  isTrashed: fc.constantFrom(false, false, false, false, true),
  isSent: fc.boolean(),
});
const date = fc.date({ min: new Date('2024-01-01T00:00:00Z'), max: NOW, noInvalidDate: true });
const contextArb = fc.record({
  threadInitiatedThroughProduct: fc.boolean(),
  historical: fc.boolean(),
  threadLastActivityAt: fc.option(date, { nil: null }),
});

function makeContext(c: { threadInitiatedThroughProduct: boolean; historical: boolean; threadLastActivityAt: Date | null }): IngestionContext {
  return {
    owner: OWNER,
    candidatesByAddress: LOOKUP,
    threadInitiatedThroughProduct: c.threadInitiatedThroughProduct,
    threadLastActivityAt: c.threadLastActivityAt,
    sync: c.historical ? { kind: 'historical', now: NOW, windowStart: WINDOW_START } : { kind: 'incremental', now: NOW },
  };
}

/** A message about 0–4 identities, written twice with independent order, case, +tags, names, headers and shape. */
const scenario = fc
  .subarray(POOL, { minLength: 0, maxLength: 4 })
  .chain((identities) =>
    fc.record({
      identities: fc.constant(identities),
      first: fc.array(cosmetics, { minLength: identities.length, maxLength: identities.length }),
      second: fc.array(cosmetics, { minLength: identities.length, maxLength: identities.length }),
      order: fc.shuffledSubarray([...identities.keys()], { minLength: identities.length, maxLength: identities.length }),
      firstAsObjects: fc.boolean(),
      secondAsObjects: fc.boolean(),
      flags,
      date,
      context: contextArb,
    }),
  );

const RULE_FUNCTIONS: Record<IngestionRuleId, (m: MessageHeaders, c: IngestionContext) => RuleResult> = {
  'R-38': (m) => r38SpamAndDrafts(m),
  'R-37': (m) => r37InTrash(m),
  'R-35': r35Window,
  'R-36': r36ActiveThread,
  'R-30': r30TwoParticipants,
  'R-31': r31InternalMail,
  'R-33': r33MatchingProfile,
  'R-32': r32Pipeline,
  'R-34': r34DiscoverySetting,
};

describe('ingestion properties', () => {
  it('R-30…R-34 (property): the decision never depends on the order, case, +tags, display names or header of the addresses', () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const ctx = makeContext(s.context);
        const base = { ...s.flags, date: s.date };
        const a = decideIngestion({ ...base, ...render(s.identities, s.first, s.firstAsObjects) }, ctx);
        const reordered = s.order.map((i) => s.identities[i] as string);
        const looks = s.order.map((i) => s.second[i] as Cosmetics);
        const b = decideIngestion({ ...base, ...render(reordered, looks, s.secondAsObjects) }, ctx);
        expect(b).toEqual(a);
      }),
      { numRuns: 400 },
    );
  });

  it('R-32/R-33/R-34 (property): threads initiated through the product are never excluded by them', () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const ctx = makeContext({ ...s.context, threadInitiatedThroughProduct: true });
        const decision = decideIngestion({ ...s.flags, date: s.date, ...render(s.identities, s.first, s.firstAsObjects) }, ctx);
        expect(['R-32', 'R-33', 'R-34']).not.toContain(decision.rule);
      }),
      { numRuns: 300 },
    );
  });

  it('R-40 (property): the decision is the first objection of the rule functions in the documented order', () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const ctx = makeContext(s.context);
        const m: MessageHeaders = { ...s.flags, date: s.date, ...render(s.identities, s.first, s.firstAsObjects) };
        const decision = decideIngestion(m, ctx);
        const first = INGESTION_EVALUATION_ORDER.map((id) => RULE_FUNCTIONS[id](m, ctx)).find((r) => r !== 'allowed');
        if (first === undefined) {
          expect(decision).toMatchObject({ ingested: true, rule: null });
        } else {
          expect(decision).toEqual({ ingested: false, ...first });
        }
      }),
      { numRuns: 400 },
    );
  });

  it('R-30/R-31 (property): an ingested message has exactly one counterpart, outside the seat\'s domain, among two addresses', () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const m = { ...s.flags, date: s.date, ...render(s.identities, s.first, s.firstAsObjects) };
        const decision = decideIngestion(m, makeContext(s.context));
        if (!decision.ingested) return;
        const p = participantsOf(m, OWNER);
        expect(p.counterparts).toHaveLength(1);
        expect(p.addresses.length).toBeLessThanOrEqual(2);
        expect(p.counterparts[0]?.endsWith('@acme.com')).toBe(false);
        expect(m.isSpam || m.isDraft || m.isTrashed).toBe(false);
      }),
      { numRuns: 300 },
    );
  });

  it('R-40 (property): no body text ever reaches a decision or its explanation', () => {
    fc.assert(
      fc.property(scenario, fc.string({ minLength: 1, maxLength: 20 }), (s, text) => {
        const secret = `SECRET-BODY-${text}`;
        const m = { ...s.flags, date: s.date, ...render(s.identities, s.first, s.firstAsObjects), body: secret, snippet: secret, subject: secret };
        const decision = decideIngestion(m, makeContext(s.context));
        expect(JSON.stringify(decision)).not.toContain('SECRET-BODY');
        expect(describeDecision(decision)).not.toContain('SECRET-BODY');
      }),
      { numRuns: 200 },
    );
  });
});
