import { describe, expect, it } from 'vitest';
import { INGESTION_EVALUATION_ORDER, RULE_TITLES, decideIngestion, describeDecision } from '../../../src/domain/ingestion/index.ts';
import { context, exempt, from, historical, message } from './fixtures.ts';

describe('decideIngestion: evaluation order (R-40 names the deciding rule)', () => {
  it('R-40: the documented order is R-38, R-37, R-35, R-36, R-30, R-31, R-33, R-32, R-34', () => {
    expect(INGESTION_EVALUATION_ORDER).toEqual(['R-38', 'R-37', 'R-35', 'R-36', 'R-30', 'R-31', 'R-33', 'R-32', 'R-34']);
  });

  it('R-38 before R-37: a draft in the Trash is reported as a draft', () => {
    expect(decideIngestion(message({ isDraft: true, isTrashed: true }), context()).rule).toBe('R-38');
  });

  it('R-37 before R-35: a trashed message outside the window is reported as deleted', () => {
    expect(decideIngestion(message({ isTrashed: true, date: new Date('2001-01-01T00:00:00Z') }), historical()).rule).toBe('R-37');
  });

  it('R-35 before R-36 and R-30: an old group email is reported as outside the window', () => {
    const m = message({ cc: 'a@b.com, c@d.com', date: new Date('2023-01-01T00:00:00Z') });
    expect(decideIngestion(m, historical({ threadLastActivityAt: null })).rule).toBe('R-35');
  });

  it('R-36 before R-30: an inactive thread is reported as inactive', () => {
    const m = message({ cc: 'a@b.com', date: new Date('2024-08-01T00:00:00Z') });
    expect(decideIngestion(m, historical({ threadLastActivityAt: new Date('2024-09-01T00:00:00Z') })).rule).toBe('R-36');
  });

  it('R-30 before R-31: a colleague and a candidate together are three participants', () => {
    expect(decideIngestion(message({ cc: 'colleague@acme.com' }), context()).rule).toBe('R-30');
  });

  it('R-31 before R-33: an internal address that is no candidate is reported as internal', () => {
    expect(decideIngestion(from('nobody-known@acme.com'), context()).rule).toBe('R-31');
  });

  it('R-33 before R-32 before R-34', () => {
    expect(decideIngestion(from('stranger@nowhere.org'), context()).rule).toBe('R-33');
    expect(decideIngestion(from('cat@closed.io'), context()).rule).toBe('R-32');
    expect(decideIngestion(from('dan@mail.com'), context()).rule).toBe('R-34');
  });

  it('R-32, R-33, R-34 are waived for threads initiated through the product; R-30, R-31, R-35…R-38 are not', () => {
    for (const address of ['stranger@nowhere.org', 'cat@closed.io', 'dan@mail.com']) {
      expect(decideIngestion(from(address), exempt())).toMatchObject({ ingested: true, rule: null });
    }
    expect(decideIngestion(message({ cc: 'x@y.com' }), exempt()).rule).toBe('R-30');
    expect(decideIngestion(from('colleague@acme.com'), exempt()).rule).toBe('R-31');
    expect(decideIngestion(message({ date: new Date('2020-01-01T00:00:00Z') }), historical({ threadInitiatedThroughProduct: true })).rule).toBe('R-35');
    expect(decideIngestion(message({ isSpam: true }), exempt()).rule).toBe('R-38');
    expect(decideIngestion(message({ isTrashed: true }), exempt()).rule).toBe('R-37');
  });

  it('R-40: an ingested decision records the counterpart, the candidates, the direction and the sync kind', () => {
    expect(decideIngestion(message(), historical())).toEqual({
      ingested: true,
      rule: null,
      reason: 'One-to-one email with ann@example.org, a candidate in your pipeline whose email discovery setting includes you.',
      facts: {
        counterpart: 'ann@example.org',
        candidateIds: ['c-ann'],
        threadInitiatedThroughProduct: false,
        direction: 'received',
        syncKind: 'historical',
        messageDate: '2025-06-01T09:00:00.000Z',
      },
    });
  });

  it('R-40: decisions are plain JSON (dates as ISO strings), so the decision log can store them as they are', () => {
    for (const m of [message(), message({ isSpam: true }), message({ cc: 'x@y.com' }), from('dan@mail.com'), message({ date: new Date('2001-01-01T00:00:00Z') })]) {
      const decision = decideIngestion(m, historical());
      expect(JSON.parse(JSON.stringify(decision))).toEqual(decision);
    }
  });

  it('R-40: no body text reaches a decision, whatever else the message object carries', () => {
    const secret = 'BODY-TEXT-never-logged';
    const withBody = { ...message(), body: secret, html: `<p>${secret}</p>`, snippet: secret, subject: secret, attachments: [secret] };
    for (const ctx of [context(), exempt(), historical()]) {
      for (const m of [withBody, { ...withBody, cc: 'x@y.com' }, { ...withBody, isSpam: true }, { ...withBody, from: 'stranger@nowhere.org' }]) {
        const decision = decideIngestion(m, ctx);
        expect(JSON.stringify(decision)).not.toContain(secret);
        expect(describeDecision(decision)).not.toContain(secret);
      }
    }
  });
});

describe('describeDecision (R-40: the product answers "why isn\'t an email here?")', () => {
  it('R-40: names the rule id and title with the reason for an exclusion', () => {
    expect(describeDecision(decideIngestion(from('colleague@acme.com'), context()))).toBe(
      'Not synced (R-31, Internal mail): colleague@acme.com is at acme.com, the same domain as your connected mailbox: email within your own domain is not synced.',
    );
    expect(describeDecision(decideIngestion(message({ cc: 'bob@gmail.com' }), context()))).toBe(
      'Not synced (R-30, Two participants only): It has 3 different addresses (ann@example.org, bob@gmail.com, jane@acme.com): only one-to-one email between you and one other person is synced.',
    );
    expect(describeDecision(decideIngestion(from('stranger@nowhere.org'), context()))).toBe(
      'Not synced (R-33, Matching profile): stranger@nowhere.org does not match the email of any candidate, and the conversation was not started from the product.',
    );
  });

  it('R-40: says why an email is there', () => {
    expect(describeDecision(decideIngestion(from('stranger@nowhere.org'), exempt()))).toBe(
      'Synced: One-to-one email with stranger@nowhere.org in a conversation started from the product.',
    );
  });

  it('R-40: every rule has a title', () => {
    expect(Object.keys(RULE_TITLES).sort()).toEqual([...INGESTION_EVALUATION_ORDER].sort());
  });

  it('R-36: the reason gives the last activity and where the six months began', () => {
    const d = decideIngestion(message({ date: new Date('2024-08-01T00:00:00Z') }), historical({ threadLastActivityAt: null }));
    expect(describeDecision(d)).toBe(
      'Not synced (R-36, Active threads only): Its conversation had no activity in the six months before the sync (last activity 2024-08-01; the six months began 2024-12-15 12:00 UTC): only active conversations are imported.',
    );
  });
});
