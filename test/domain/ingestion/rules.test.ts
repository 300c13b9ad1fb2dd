import { describe, expect, it } from 'vitest';
import {
  decideIngestion,
  discoveryAdmits,
  r30TwoParticipants,
  r31InternalMail,
  r32Pipeline,
  r33MatchingProfile,
  r34DiscoverySetting,
  r35Window,
  r36ActiveThread,
  r37DeletedAtSource,
  r37InTrash,
  r38SpamAndDrafts,
} from '../../../src/domain/ingestion/index.ts';
import type { CandidateMatch, IngestionContext, NetworkDegree } from '../../../src/domain/ingestion/index.ts';
import type { EmailDiscovery } from '../../../src/domain/types.ts';
import { NOW, WINDOW_START, context, exempt, from, historical, message } from './fixtures.ts';

const rule = (m: Parameters<typeof decideIngestion>[0], c: IngestionContext = context()) => decideIngestion(m, c).rule;

describe('R-30 two participants only', () => {
  it('R-30: a one-to-one email received from a pipeline candidate is ingested', () => {
    const decision = decideIngestion(message(), context());
    expect(decision).toMatchObject({ ingested: true, rule: null });
    expect(decision.facts).toMatchObject({ counterpart: 'ann@example.org', candidateIds: ['c-ann'], direction: 'received' });
  });

  it('R-30: sent mail (the owner in From) with one candidate is ingested', () => {
    const decision = decideIngestion(message({ from: 'Jane <jane@acme.com>', to: 'ann@example.org', isSent: true }), context());
    expect(decision).toMatchObject({ ingested: true, facts: { counterpart: 'ann@example.org', direction: 'sent' } });
  });

  it('R-30: addresses compare case-insensitively, ignoring +tags and display names', () => {
    const decision = decideIngestion(message({ from: '"Example, Ann" <ANN+Jobs@Example.ORG>', to: '"Jane (Recruiting)" <Jane+Hiring@ACME.com>' }), context());
    expect(decision).toMatchObject({ ingested: true, facts: { counterpart: 'ann@example.org' } });
  });

  it('R-30: one person written in several forms is one address', () => {
    expect(rule(message({ to: 'jane@acme.com, JANE+x@acme.com', cc: 'Ann <ann+1@example.org>', bcc: 'ann@EXAMPLE.org' }))).toBeNull();
  });

  it('R-30: a third address in Cc is not ingested', () => {
    const decision = decideIngestion(message({ cc: 'colleague@partner.com' }), context());
    expect(decision).toMatchObject({ ingested: false, rule: 'R-30', facts: { addressCount: 3, counterpartCount: 2 } });
  });

  it('R-30: a third address in Bcc counts too', () => {
    expect(rule(message({ from: 'jane@acme.com', to: 'ann@example.org', bcc: 'bob@gmail.com', isSent: true }))).toBe('R-30');
  });

  it('R-30: two of the owner\'s own aliases and a candidate are three distinct addresses', () => {
    const decision = decideIngestion(message({ from: 'ann@example.org', to: 'jane@acme.com', cc: 'talent@acme-talent.io' }), context());
    expect(decision).toMatchObject({ rule: 'R-30', facts: { addressCount: 3, counterparts: ['ann@example.org'], ownerAddresses: ['jane@acme.com', 'talent@acme-talent.io'] } });
  });

  it('R-30: mail sent from an alias to a candidate is ingested (aliases are owner addresses)', () => {
    expect(decideIngestion(message({ from: 'Talent <Talent@acme-talent.io>', to: 'ann@example.org', isSent: true }), context())).toMatchObject({ ingested: true, facts: { counterpart: 'ann@example.org' } });
  });

  it('R-30: self-mail has no counterpart and is not ingested', () => {
    const decision = decideIngestion(message({ from: 'jane@acme.com', to: 'Jane <JANE@acme.com>', isSent: true }), context());
    expect(decision).toMatchObject({ rule: 'R-30', facts: { counterpartCount: 0, addressCount: 1 } });
    expect(decision.reason).toMatch(/one of your own/);
  });

  it('R-30: mail between two of the owner\'s aliases has no counterpart', () => {
    expect(rule(message({ from: 'jane@acme.com', to: 'jane.doe@acme.com' }))).toBe('R-30');
  });

  it('R-30: two other people and none of the owner\'s addresses is not ingested', () => {
    const decision = decideIngestion(message({ from: 'ann@example.org', to: 'bob@gmail.com' }), context());
    expect(decision).toMatchObject({ rule: 'R-30', facts: { addressCount: 2, counterpartCount: 2 } });
  });

  it('R-30: a message with no readable address is not ingested', () => {
    expect(decideIngestion(message({ from: '', to: 'undisclosed-recipients:;' }), context()).rule).toBe('R-30');
  });

  it('R-30: an empty group names no one, so a candidate writing to undisclosed recipients is one counterpart', () => {
    // SPEC counts the addresses of From/To/Cc/Bcc; a hidden Bcc list is not visible to count.
    expect(rule(message({ from: 'ann@example.org', to: 'undisclosed-recipients:;' }))).toBeNull();
  });

  it('R-30: threads initiated through the product are not exempt', () => {
    expect(rule(message({ cc: 'someone@else.com' }), exempt())).toBe('R-30');
  });

  it('R-30: the rule function alone agrees', () => {
    expect(r30TwoParticipants(message(), context())).toBe('allowed');
    expect(r30TwoParticipants(message({ cc: 'x@y.com' }), context())).toMatchObject({ rule: 'R-30' });
  });
});

describe('R-31 internal mail', () => {
  it('R-31: a colleague at the seat\'s domain is not ingested', () => {
    const decision = decideIngestion(from('Colleague <colleague@acme.com>'), context());
    expect(decision).toMatchObject({ rule: 'R-31', facts: { counterpart: 'colleague@acme.com', counterpartDomain: 'acme.com', ownerDomain: 'acme.com' } });
  });

  it('R-31: the domain compares case-insensitively', () => {
    expect(rule(from('Colleague@ACME.COM'))).toBe('R-31');
  });

  it('R-31: a colleague with a candidate profile in the pipeline is still internal', () => {
    expect(rule(from('hal@acme.com'))).toBe('R-31');
  });

  it('R-31: a subdomain is a different domain (exact match), so a candidate at eu.acme.com is ingested', () => {
    expect(decideIngestion(from('gus@eu.acme.com'), context())).toMatchObject({ ingested: true, facts: { candidateIds: ['c-gus'] } });
  });

  it('R-31: a parent domain is a different domain too', () => {
    const owner = { address: 'jane@talent.acme.com', aliases: [] };
    expect(r31InternalMail(message({ to: 'jane@talent.acme.com', from: 'hal@acme.com' }), { owner })).toBe('allowed');
  });

  it('R-31: the domain of an alias is not the authorized address\'s domain', () => {
    expect(r31InternalMail(from('someone@acme-talent.io'), context())).toBe('allowed');
  });

  it('R-31: the seat\'s own domain counts even when it is a public mail domain', () => {
    const owner = { address: 'jane@gmail.com', aliases: [] };
    expect(rule(message({ from: 'bob@gmail.com', to: 'jane@gmail.com' }), context({ owner }))).toBe('R-31');
  });

  it('R-31: threads initiated through the product are not exempt', () => {
    expect(rule(from('colleague@acme.com'), exempt())).toBe('R-31');
  });
});

describe('R-33 matching profile', () => {
  it('R-33: an address that matches no candidate email is not ingested', () => {
    const decision = decideIngestion(from('Stranger <stranger@nowhere.org>'), context());
    expect(decision).toMatchObject({ rule: 'R-33', facts: { counterpart: 'stranger@nowhere.org', candidateIds: [] } });
  });

  it('R-33: a thread initiated through the product is exempt', () => {
    expect(decideIngestion(from('stranger@nowhere.org'), exempt())).toMatchObject({ ingested: true, facts: { candidateIds: [], threadInitiatedThroughProduct: true } });
  });

  it('R-33: every email of a candidate with several emails matches', () => {
    expect(decideIngestion(from('ANN.WORK+recruiting@corp.net'), context())).toMatchObject({ ingested: true, facts: { candidateIds: ['c-ann'] } });
    expect(decideIngestion(from('ann@example.org'), context())).toMatchObject({ ingested: true, facts: { candidateIds: ['c-ann'] } });
  });

  it('R-33: the lookup may be a function as well as a map', () => {
    const lookup = (address: string): CandidateMatch | undefined =>
      address === 'zoe@z.io' ? { candidateId: 'c-zoe', inPipeline: true, emailDiscovery: 'anyone', ownerDegree: null } : undefined;
    expect(decideIngestion(from('Zoe@Z.io'), context({ candidatesByAddress: lookup }))).toMatchObject({ ingested: true, facts: { candidateIds: ['c-zoe'] } });
    expect(rule(from('ann@example.org'), context({ candidatesByAddress: lookup }))).toBe('R-33');
  });

  it('R-33: the rule function alone agrees', () => {
    expect(r33MatchingProfile(from('stranger@nowhere.org'), context())).toMatchObject({ rule: 'R-33' });
    expect(r33MatchingProfile(from('cat@closed.io'), context())).toBe('allowed');
    expect(r33MatchingProfile(from('stranger@nowhere.org'), exempt())).toBe('allowed');
  });
});

describe('R-32 pipeline', () => {
  it('R-32: a candidate held only by a closed project is not in the pipeline', () => {
    const decision = decideIngestion(from('cat@closed.io'), context());
    expect(decision).toMatchObject({ rule: 'R-32', facts: { counterpart: 'cat@closed.io', candidateIds: ['c-cat'], inPipeline: false } });
    expect(decision.reason).toMatch(/not in your pipeline/);
  });

  it('R-32: a thread initiated through the product is exempt', () => {
    expect(decideIngestion(from('cat@closed.io'), exempt())).toMatchObject({ ingested: true, facts: { candidateIds: ['c-cat'] } });
  });

  it('R-32: duplicate profiles pass when one of them is in the pipeline', () => {
    expect(r32Pipeline(from('ivy@dup.org'), context())).toBe('allowed');
  });

  it('R-32 and R-33 differ: no profile at all is R-33, a profile outside the pipeline is R-32', () => {
    expect(rule(from('stranger@nowhere.org'))).toBe('R-33');
    expect(rule(from('cat@closed.io'))).toBe('R-32');
    // On its own, R-32 reads SPEC literally: an address of no candidate is not a pipeline candidate's either.
    expect(r32Pipeline(from('stranger@nowhere.org'), context())).toMatchObject({ rule: 'R-32', facts: { candidateIds: [] } });
  });
});

describe('R-34 discovery setting', () => {
  const table: Array<[EmailDiscovery, NetworkDegree, boolean]> = [
    ['anyone', 1, true],
    ['anyone', 2, true],
    ['anyone', 3, true],
    ['anyone', null, true],
    ['second_degree', 1, true],
    ['second_degree', 2, true],
    ['second_degree', 3, false],
    ['second_degree', null, false],
    ['first_degree', 1, true],
    ['first_degree', 2, false],
    ['first_degree', 3, false],
    ['first_degree', null, false],
    ['nobody', 1, false],
    ['nobody', 2, false],
    ['nobody', 3, false],
    ['nobody', null, false],
  ];

  it.each(table)('R-34: setting %s, seat holder at degree %s → ingested: %s', (emailDiscovery, ownerDegree, admitted) => {
    expect(discoveryAdmits(emailDiscovery, ownerDegree)).toBe(admitted);
    const lookup = new Map([['kim@k.org', { candidateId: 'c-kim', inPipeline: true, emailDiscovery, ownerDegree }]]);
    const decision = decideIngestion(from('Kim@K.org'), context({ candidatesByAddress: lookup }));
    expect(decision.ingested).toBe(admitted);
    if (!admitted) expect(decision).toMatchObject({ rule: 'R-34', facts: { counterpart: 'kim@k.org', candidateIds: ['c-kim'], emailDiscovery: [emailDiscovery], ownerDegree: [ownerDegree] } });
    // Exempt threads: the recruiter supplied the address, nothing was discovered.
    expect(decideIngestion(from('kim@k.org'), exempt({ candidatesByAddress: lookup })).ingested).toBe(true);
  });

  it('R-34: the fixtures\' candidates decide as the table says', () => {
    expect(rule(from('dan@mail.com'))).toBe('R-34'); // nobody, even a 1st-degree connection
    expect(rule(from('fay@example.net'))).toBe('R-34'); // 1st degree only, not connected
    expect(rule(from('bob@gmail.com'))).toBeNull(); // 2nd degree admitted
  });

  it('R-34: with duplicate profiles, one pipeline profile that admits the seat is enough', () => {
    expect(decideIngestion(from('ivy@dup.org'), context())).toMatchObject({ ingested: true, facts: { candidateIds: ['c-ivy-2', 'c-ivy-3'] } });
    const stricter = new Map([
      ['ivy@dup.org', [
        { candidateId: 'c-ivy-1', inPipeline: false, emailDiscovery: 'anyone', ownerDegree: 1 },
        { candidateId: 'c-ivy-2', inPipeline: true, emailDiscovery: 'first_degree', ownerDegree: 3 },
      ] as CandidateMatch[]],
    ]);
    // The profile outside the pipeline would admit, but R-34 asks the pipeline candidates only.
    expect(decideIngestion(from('ivy@dup.org'), context({ candidatesByAddress: stricter }))).toMatchObject({ rule: 'R-34', facts: { candidateIds: ['c-ivy-2'] } });
  });

  it('R-34: the reason names the setting and the seat holder\'s degree', () => {
    expect(decideIngestion(from('fay@example.net'), context()).reason).toBe(
      'fay@example.net belongs to a candidate whose email discovery setting allows 1st-degree connections only, and you are not connected, and the conversation was not started from the product.',
    );
  });

  it('R-34: the rule function alone ignores addresses without a pipeline candidate', () => {
    expect(r34DiscoverySetting(from('stranger@nowhere.org'), context())).toBe('allowed');
    expect(r34DiscoverySetting(from('dan@mail.com'), context())).toMatchObject({ rule: 'R-34' });
    expect(r34DiscoverySetting(from('dan@mail.com'), exempt())).toBe('allowed');
  });
});

describe('R-35 window', () => {
  it('R-35: a message dated exactly at the window start is ingested; one millisecond earlier is not', () => {
    expect(rule(message({ date: WINDOW_START }), historical({ threadLastActivityAt: NOW }))).toBeNull();
    const decision = decideIngestion(message({ date: new Date(WINDOW_START.getTime() - 1) }), historical({ threadLastActivityAt: NOW }));
    expect(decision).toMatchObject({ rule: 'R-35', facts: { windowStart: WINDOW_START.toISOString(), messageDate: '2024-06-15T11:59:59.999Z' } });
    expect(decision.reason).toMatch(/before your sync window starts \(2024-06-15 12:00 UTC\)/);
  });

  it('R-35: only historical syncs are limited; incremental sync takes new mail of any date', () => {
    expect(r35Window(message({ date: new Date('2001-01-01T00:00:00Z') }), context())).toBe('allowed');
  });

  it('R-35: a legacy seat\'s window starts on 2024-02-06', () => {
    const sync = { kind: 'historical' as const, now: new Date('2024-06-01T00:00:00Z'), windowStart: new Date('2024-02-06T00:00:00Z') };
    expect(r35Window(message({ date: new Date('2024-02-06T00:00:00Z') }), { sync })).toBe('allowed');
    expect(r35Window(message({ date: new Date('2024-02-05T23:59:59Z') }), { sync })).toMatchObject({ rule: 'R-35' });
  });

  it('R-35: a message without a valid date is outside the window', () => {
    expect(rule(message({ date: new Date(Number.NaN) }), historical())).toBe('R-35');
  });
});

describe('R-36 active threads only', () => {
  const cutoff = new Date('2024-12-15T12:00:00.000Z'); // NOW − six calendar months

  it('R-36: a thread active exactly six calendar months before the sync is imported; a millisecond earlier is not', () => {
    const old = message({ date: new Date('2024-08-01T00:00:00Z') });
    expect(rule(old, historical({ threadLastActivityAt: cutoff }))).toBeNull();
    const decision = decideIngestion(old, historical({ threadLastActivityAt: new Date(cutoff.getTime() - 1) }));
    expect(decision).toMatchObject({ rule: 'R-36', facts: { activityCutoff: cutoff.toISOString(), now: NOW.toISOString() } });
  });

  it('R-36: an old message of a recently active thread is imported', () => {
    expect(rule(message({ date: new Date('2024-07-01T00:00:00Z') }), historical({ threadLastActivityAt: new Date('2025-06-01T00:00:00Z') }))).toBeNull();
  });

  it('R-36: when the thread\'s activity is unknown the message date stands for it', () => {
    expect(rule(message({ date: new Date('2025-01-01T00:00:00Z') }), historical({ threadLastActivityAt: null }))).toBeNull();
    expect(rule(message({ date: new Date('2024-08-01T00:00:00Z') }), historical({ threadLastActivityAt: null }))).toBe('R-36');
  });

  it('R-36: across a leap-year month end (31 Aug → 29 Feb)', () => {
    const sync = { kind: 'historical' as const, now: new Date('2024-08-31T00:00:00Z'), windowStart: new Date('2023-08-31T00:00:00Z') };
    expect(r36ActiveThread(message({ date: new Date('2024-02-29T00:00:00Z') }), { sync, threadLastActivityAt: null })).toBe('allowed');
    expect(r36ActiveThread(message({ date: new Date('2024-02-28T23:59:59Z') }), { sync, threadLastActivityAt: null })).toMatchObject({ rule: 'R-36' });
  });

  it('R-36: incremental sync is not limited (new mail is itself activity)', () => {
    expect(r36ActiveThread(message({ date: new Date('2020-01-01T00:00:00Z') }), context({ threadLastActivityAt: new Date('2020-01-01T00:00:00Z') }))).toBe('allowed');
  });

  it('R-36: threads initiated through the product are not exempt', () => {
    expect(rule(message({ date: new Date('2024-08-01T00:00:00Z') }), historical({ threadInitiatedThroughProduct: true, threadLastActivityAt: null }))).toBe('R-36');
  });
});

describe('R-37 deleted at the source', () => {
  const authorizedAt = new Date('2025-05-01T00:00:00Z');

  it('R-37: a deletion made while the seat is authorized is mirrored', () => {
    expect(r37DeletedAtSource({ authorizationState: 'authorized', authorizedAt, deletedAt: new Date('2025-06-01T00:00:00Z') })).toMatchObject({ mirror: true, rule: 'R-37' });
  });

  it('R-37: a deletion of unknown time seen while authorized is mirrored', () => {
    expect(r37DeletedAtSource({ authorizationState: 'authorized', authorizedAt, deletedAt: null })).toMatchObject({ mirror: true, rule: 'R-37' });
  });

  it('R-37/R-22: nothing is mirrored while the seat is deauthorized or needs re-authorization', () => {
    for (const authorizationState of ['deauthorized', 'needs_reauthorization'] as const) {
      expect(r37DeletedAtSource({ authorizationState, authorizedAt, deletedAt: new Date('2025-06-01T00:00:00Z') })).toMatchObject({ mirror: false, rule: 'R-22' });
    }
  });

  it('R-37/R-22: after re-authorization, a deletion made during the gap is not mirrored', () => {
    expect(r37DeletedAtSource({ authorizationState: 'authorized', authorizedAt, deletedAt: new Date('2025-04-30T23:59:59Z') })).toMatchObject({ mirror: false, rule: 'R-22' });
    expect(r37DeletedAtSource({ authorizationState: 'authorized', authorizedAt, deletedAt: null, madeWhileDeauthorized: true })).toMatchObject({ mirror: false, rule: 'R-22', facts: { madeWhileDeauthorized: true } });
    expect(r37DeletedAtSource({ authorizationState: 'authorized', authorizedAt, deletedAt: authorizedAt }).mirror).toBe(true);
  });

  it('R-37: a message found in Trash / Deleted Items is not ingested', () => {
    expect(r37InTrash(message({ isTrashed: true }))).toMatchObject({ rule: 'R-37' });
    expect(r37InTrash(message())).toBe('allowed');
    expect(rule(message({ isTrashed: true }), exempt())).toBe('R-37');
  });
});

describe('R-38 spam and drafts', () => {
  it('R-38: spam is never ingested, even from a pipeline candidate', () => {
    expect(decideIngestion(message({ isSpam: true }), context())).toMatchObject({ rule: 'R-38', facts: { isSpam: true, isDraft: false } });
  });

  it('R-38: drafts are never ingested, even in a thread initiated through the product', () => {
    const decision = decideIngestion(message({ from: 'jane@acme.com', to: 'ann@example.org', isDraft: true }), exempt());
    expect(decision).toMatchObject({ rule: 'R-38', facts: { isDraft: true } });
    expect(decision.reason).toMatch(/draft/);
  });

  it('R-38: is decided before any other rule and records nothing about participants', () => {
    const decision = decideIngestion(message({ isSpam: true, cc: 'a@b.com, c@d.com', date: new Date('2001-01-01T00:00:00Z') }), historical());
    expect(decision.rule).toBe('R-38');
    expect(Object.keys(decision.facts).sort()).toEqual(['isDraft', 'isSpam']);
  });

  it('R-38: the rule function alone agrees', () => {
    expect(r38SpamAndDrafts({ isSpam: false, isDraft: false })).toBe('allowed');
    expect(r38SpamAndDrafts({ isSpam: true, isDraft: true })).toMatchObject({ rule: 'R-38' });
  });
});

