import { describe, expect, it } from 'vitest';
import { parseQuery } from '../../sim/google/query.ts';
import { gmailQueries } from '../../src/providers/google/gmail.ts';

describe('Gmail search queries of the historical scan', () => {
  const addresses = Array.from({ length: 40 }, (_, i) => `candidate.number${i}@example${i % 3}.test`);
  const after = new Date('2025-11-03T10:00:00.500Z');
  const before = new Date('2026-05-03T10:00:00.250Z');

  it('asks for every address exactly once, each query within the length budget, limited to the dates and without drafts', () => {
    const queries = gmailQueries([...addresses, addresses[0]!.toUpperCase()], { after, before });
    expect(queries.length).toBeGreaterThan(1);
    for (const q of queries) {
      expect(q.endsWith(` after:${Math.floor(after.getTime() / 1000)} before:${Math.ceil(before.getTime() / 1000)} -in:drafts`)).toBe(true);
      expect(q.length).toBeLessThan(1500);
      // Each address in all four fields, and the `local+` form for tagged variants.
      expect(q).toMatch(/^\{from:\{[^}]+\} to:\{[^}]+\} cc:\{[^}]+\} bcc:\{[^}]+\}\} /);
      expect(() => parseQuery(q)).not.toThrow();
    }
    for (const a of addresses) {
      const holding = queries.filter((q) => q.includes(`{${a} `) || q.includes(` ${a} `));
      expect(holding, a).toHaveLength(1);
      expect(holding[0]).toContain(`${a.slice(0, a.indexOf('@'))}+`);
    }
  });

  it('without an end date asks from the start of the range on', () => {
    const [q] = gmailQueries(['jane@example.test'], { after });
    expect(q).toBe(`{from:{jane@example.test jane+} to:{jane@example.test jane+} cc:{jane@example.test jane+} bcc:{jane@example.test jane+}} after:${Math.floor(after.getTime() / 1000)} -in:drafts`);
  });
});
