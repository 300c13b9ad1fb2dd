import { afterEach, describe, expect, it, vi } from 'vitest';
import { addCalendarMonths, summarize, windowStart, defaultScenario, type GeneratedMailbox } from '../../../sim/generator/index.ts';
import { generate, NOW } from './fixtures.ts';

afterEach(() => vi.restoreAllMocks());

describe('determinism', () => {
  it('gives identical output for the same seed, without Math.random or the wall clock', () => {
    const random = vi.spyOn(Math, 'random');
    const clock = vi.spyOn(Date, 'now');
    for (const size of ['tiny', 'demo', 1500] as const) {
      const a = generate(size);
      const b = generate(size);
      expect(JSON.stringify(b)).toBe(JSON.stringify(a));
    }
    expect(random).not.toHaveBeenCalled();
    expect(clock).not.toHaveBeenCalled();
  });

  it('gives different mail for another seed or another owner', () => {
    const a = generate('demo');
    const b = generate('demo', { seed: 'northwind-2' });
    const c = generate('demo', { owner: { address: 'sam@northwind.example', name: 'Sam Sourcer' } });
    expect(b.messages.map((m) => m.subject)).not.toEqual(a.messages.map((m) => m.subject));
    expect(c.messages.map((m) => m.subject)).not.toEqual(a.messages.map((m) => m.subject));
  });

  it('keeps keys, Message-IDs and thread keys unique and replies pointing at earlier messages of their thread', () => {
    const mailbox = generate('demo');
    expect(new Set(mailbox.messages.map((m) => m.key)).size).toBe(mailbox.messages.length);
    expect(new Set(mailbox.messages.map((m) => m.messageId)).size).toBe(mailbox.messages.length);
    const byMessageId = new Map(mailbox.messages.map((m) => [m.messageId, m]));
    for (const m of mailbox.messages) {
      if (!m.inReplyTo) continue;
      const parent = byMessageId.get(m.inReplyTo)!;
      expect(parent.threadKey).toBe(m.threadKey);
      expect(Date.parse(parent.date)).toBeLessThan(Date.parse(m.date));
      expect(m.references?.at(-1)).toBe(m.inReplyTo);
    }
    // Delivery order is date order, and every thread's first message comes before its replies.
    const dates = mailbox.messages.map((m) => Date.parse(m.date));
    expect([...dates].sort((x, y) => x - y)).toEqual(dates);
  });
});

function kinds(mailbox: GeneratedMailbox): Set<string> {
  return new Set(mailbox.messages.map((m) => m.kind));
}

describe('sizes and mix', () => {
  it('tiny has a handful of messages covering every rule and every kind', () => {
    const tiny = generate('tiny');
    expect(tiny.messages.length).toBeGreaterThanOrEqual(15);
    expect(tiny.messages.length).toBeLessThanOrEqual(30);
    const rules = new Set(tiny.messages.map((m) => m.expected.rule));
    expect([...rules].sort()).toEqual(['R-30', 'R-31', 'R-32', 'R-33', 'R-34', 'R-35', 'R-36', 'R-38', null].sort());
    expect([...kinds(tiny)].sort()).toEqual(
      ['candidate', 'candidate_cc', 'candidate_draft', 'candidate_spam', 'discovery', 'not_in_pipeline', 'colleague', 'group', 'self', 'newsletter', 'external'].sort(),
    );
    // Candidates: +tags and mixed case, every discovery setting, every degree, every membership.
    const emails = tiny.candidates.flatMap((c) => c.emails);
    expect(emails.some((e) => e.includes('+'))).toBe(true);
    expect(emails.some((e) => e !== e.toLowerCase())).toBe(true);
    expect(new Set(tiny.candidates.map((c) => c.discovery))).toEqual(new Set(['anyone', 'second_degree', 'first_degree', 'nobody']));
    expect(new Set(tiny.candidates.map((c) => c.degree))).toEqual(new Set([1, 2, 3, null]));
    expect(new Set(tiny.candidates.map((c) => c.membership))).toEqual(new Set(['active', 'talent_pool', 'closed']));
    // Projects agree with memberships.
    for (const c of tiny.candidates) {
      const statuses = tiny.projects.filter((p) => p.candidateKeys.includes(c.key)).map((p) => p.status);
      expect(statuses.includes('active')).toBe(c.membership === 'active');
      if (c.membership === 'closed') expect(statuses).toContain('closed');
      if (c.membership === 'talent_pool') expect(statuses).toEqual([]);
    }
  });

  it('a numeric size gives exactly that many messages; demo gives a few hundred', () => {
    expect(generate(437).messages).toHaveLength(437);
    expect(generate(0).messages).toHaveLength(0);
    const demo = generate('demo');
    expect(demo.messages).toHaveLength(300);
    expect(demo.messages.filter((m) => m.expected.ingested).length).toBeGreaterThan(30);
    expect(() => generate(-1)).toThrow(/size/);
  });

  it('benchmark: 20,000 messages over 14 months, ~3% one-to-one with pipeline candidates, every rule, mostly one reason each', () => {
    const started = performance.now();
    const mailbox = generate('benchmark');
    const elapsed = performance.now() - started;
    console.log(`benchmark mailbox generated in ${Math.round(elapsed)} ms`);
    const stats = summarize(mailbox);
    expect(stats.messages).toBe(20_000);
    expect((stats.byKind.candidate ?? 0) / stats.messages).toBeCloseTo(0.03, 3);
    for (const rule of ['R-30', 'R-31', 'R-32', 'R-33', 'R-34', 'R-35', 'R-36', 'R-38', 'ingested']) expect(stats.byRule[rule] ?? 0).toBeGreaterThan(50);
    expect(stats.singleReason).toBeGreaterThan(stats.multiReason);
    // Shares of the big categories, loosely: newsletters and notifications, colleagues, groups.
    expect((stats.byKind.newsletter ?? 0) / stats.messages).toBeGreaterThan(0.3);
    expect((stats.byKind.colleague ?? 0) / stats.messages).toBeGreaterThan(0.2);
    expect((stats.byKind.group ?? 0) / stats.messages).toBeGreaterThan(0.08);
    expect(stats.withAttachments).toBeGreaterThan(50);
    expect(stats.nonAsciiSubjects).toBeGreaterThan(500);
    expect(stats.htmlOnly).toBeGreaterThan(500);
    expect(stats.textOnly).toBeGreaterThan(500);
    // Dates: within 14 calendar months before now, some before the one-year window, none in the future.
    const dates = mailbox.messages.map((m) => Date.parse(m.date));
    const earliest = addCalendarMonths(NOW, -14).getTime();
    expect(Math.min(...dates)).toBeGreaterThanOrEqual(earliest);
    expect(Math.max(...dates)).toBeLessThanOrEqual(NOW.getTime());
    expect(dates.filter((t) => t < windowStart(defaultScenario(NOW)).getTime()).length).toBeGreaterThan(500);
    // Aliases, display names, Cc and Bcc all occur.
    expect(mailbox.messages.some((m) => [m.from, ...m.to].some((a) => a.includes('recruiting@northwind.example')))).toBe(true);
    expect(mailbox.messages.some((m) => m.bcc.length > 0)).toBe(true);
    expect(mailbox.messages.filter((m) => m.cc.length > 0).length).toBeGreaterThan(500);
  });

  it('uses the contract candidates it is given instead of inventing new ones', () => {
    const first = generate('demo');
    const shared = first.candidates.map((c) => ({ ...c, degree: 1 as const }));
    const second = generate('demo', {
      owner: { address: 'sam@northwind.example', name: 'Sam Sourcer' },
      contract: { candidates: shared, projects: first.projects },
      colleagues: first.colleagues,
    });
    expect(second.candidates.map((c) => c.key)).toEqual(first.candidates.map((c) => c.key));
    const keys = new Set(shared.map((c) => c.key));
    for (const m of second.messages) for (const p of m.people) if (p.kind === 'candidate') expect(keys.has(p.candidateKey)).toBe(true);
    expect(second.messages.some((m) => m.expected.ingested)).toBe(true);
  });

  it('a short mailbox (4 months) has no pre-window or inactive candidate threads', () => {
    const short = generate(400, { months: 4 });
    expect(short.messages).toHaveLength(400);
    expect(short.messages.filter((m) => m.expected.rule === 'R-35')).toHaveLength(0);
    expect(short.messages.filter((m) => m.timing === 'inactive' || m.timing === 'spans_window')).toHaveLength(0);
  });
});
