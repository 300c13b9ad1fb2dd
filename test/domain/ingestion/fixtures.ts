/** A seat at acme.com and a small talent pool covering every candidate situation SPEC §4 names. */
import { buildCandidateLookup } from '../../../src/domain/ingestion/index.ts';
import type { IngestionContext, MessageHeaders, Owner } from '../../../src/domain/ingestion/index.ts';

export const OWNER: Owner = { address: 'jane@acme.com', aliases: ['jane.doe@acme.com', 'talent@acme-talent.io'] };

export const NOW = new Date('2025-06-15T12:00:00.000Z');
export const WINDOW_START = new Date('2024-06-15T12:00:00.000Z');

export const CANDIDATES = [
  // several emails, one of them on a corporate domain
  { candidateId: 'c-ann', emails: ['ann@example.org', 'Ann.Work@Corp.net'], inPipeline: true, emailDiscovery: 'anyone', ownerDegree: 3 },
  { candidateId: 'c-bob', emails: ['bob@gmail.com'], inPipeline: true, emailDiscovery: 'second_degree', ownerDegree: 2 },
  // held only by a closed project: not in the pipeline
  { candidateId: 'c-cat', emails: ['cat@closed.io'], inPipeline: false, emailDiscovery: 'anyone', ownerDegree: 1 },
  { candidateId: 'c-dan', emails: ['dan@mail.com'], inPipeline: true, emailDiscovery: 'nobody', ownerDegree: 1 },
  { candidateId: 'c-fay', emails: ['fay@example.net'], inPipeline: true, emailDiscovery: 'first_degree', ownerDegree: null },
  // on a subdomain of the seat's domain
  { candidateId: 'c-gus', emails: ['gus@eu.acme.com'], inPipeline: true, emailDiscovery: 'anyone', ownerDegree: 2 },
  // a colleague who also has a candidate profile
  { candidateId: 'c-hal', emails: ['hal@acme.com'], inPipeline: true, emailDiscovery: 'anyone', ownerDegree: 1 },
  // duplicate profiles sharing one address
  { candidateId: 'c-ivy-1', emails: ['ivy@dup.org'], inPipeline: false, emailDiscovery: 'anyone', ownerDegree: 1 },
  { candidateId: 'c-ivy-2', emails: ['ivy@dup.org'], inPipeline: true, emailDiscovery: 'first_degree', ownerDegree: 3 },
  { candidateId: 'c-ivy-3', emails: ['ivy@dup.org'], inPipeline: true, emailDiscovery: 'second_degree', ownerDegree: 2 },
] as const;

export const LOOKUP = buildCandidateLookup(CANDIDATES);

export function message(overrides: Partial<MessageHeaders> = {}): MessageHeaders {
  return {
    from: '"Ann Example" <ann@example.org>',
    to: '"Jane" <jane@acme.com>',
    date: new Date('2025-06-01T09:00:00.000Z'),
    isSpam: false,
    isDraft: false,
    isSent: false,
    ...overrides,
  };
}

/** A one-to-one email received from `address`. */
export const from = (address: string, overrides: Partial<MessageHeaders> = {}): MessageHeaders => message({ from: address, ...overrides });

export function context(overrides: Partial<IngestionContext> = {}): IngestionContext {
  return {
    owner: OWNER,
    candidatesByAddress: LOOKUP,
    threadInitiatedThroughProduct: false,
    threadLastActivityAt: new Date('2025-06-01T09:00:00.000Z'),
    sync: { kind: 'incremental', now: NOW },
    ...overrides,
  };
}

export const historical = (overrides: Partial<IngestionContext> = {}): IngestionContext =>
  context({ sync: { kind: 'historical', now: NOW, windowStart: WINDOW_START }, ...overrides });

export const exempt = (overrides: Partial<IngestionContext> = {}): IngestionContext => context({ threadInitiatedThroughProduct: true, ...overrides });
