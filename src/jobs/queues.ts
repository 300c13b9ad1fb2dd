import { z } from 'zod';

/**
 * Every queue of the product and the shape of its payload, in one place. A queue that is not named here
 * cannot be sent to or worked (pg-boss would drop jobs for an unknown queue silently); all of them are
 * created at start.
 *
 * Payloads carry ids, never tokens or message content: they are stored in the queue tables and may
 * appear in failure records.
 */
const id = z.uuid();

export interface QueuePolicy {
  /** Attempts after the first one before the job is marked failed. */
  retryLimit: number;
  /** Seconds before the first retry. */
  retryDelaySeconds: number;
  /** Doubles the delay at each retry (with jitter). */
  retryBackoff: boolean;
  /** A run still active after this long is failed by the supervisor (and retried per the policy). */
  expireInSeconds: number;
}

interface QueueDefinition {
  payload: z.ZodType;
  policy: QueuePolicy;
  description: string;
}

const standard: QueuePolicy = { retryLimit: 5, retryDelaySeconds: 30, retryBackoff: true, expireInSeconds: 15 * 60 };

export const QUEUES = {
  'sync.mailbox': {
    description: 'Incremental sync of one authorized mailbox or calendar from its stored cursor (R-21).',
    payload: z.strictObject({
      authorizationId: id,
      trigger: z.enum(['notification', 'poll', 'reauthorized', 'manual']),
    }),
    policy: standard,
  },
  'sync.historical': {
    description: 'Historical sync of one authorization within the R-35 window (R-20).',
    payload: z.strictObject({ authorizationId: id }),
    policy: { ...standard, expireInSeconds: 60 * 60 },
  },
  'retention.purge': {
    description: 'Inactivity purge of threads without activity for six months (R-24); all contracts when none is named.',
    payload: z.strictObject({ contractId: id.optional() }),
    policy: { ...standard, retryLimit: 3, retryDelaySeconds: 300, expireInSeconds: 60 * 60 },
  },
  'subscriptions.renew': {
    description: 'Renew push subscriptions (Gmail watch, Graph subscriptions) before they expire (R-21).',
    payload: z.strictObject({ authorizationId: id.optional() }),
    policy: { ...standard, retryDelaySeconds: 60 },
  },
  'tokens.revoke': {
    description: 'Revoke tokens at the provider that are queued in token_revocations (R-22, R-70).',
    payload: z.strictObject({ revocationId: id.optional() }),
    policy: { ...standard, retryLimit: 8, retryDelaySeconds: 60 },
  },
  'tokens.refresh': {
    description: 'Refresh access tokens about to expire, so grants stay alive between syncs (R-11).',
    payload: z.strictObject({}),
    policy: { ...standard, retryLimit: 2, retryDelaySeconds: 60 },
  },
  'grants.probe': {
    description: 'A light health probe of grants not heard from lately, so a refused grant shows as needing reconnection within two minutes (R-12).',
    // `authorizedBefore`: the probe at a process start, of every grant authorized before it (see sync/probe.ts).
    payload: z.strictObject({ authorizedBefore: z.iso.datetime().optional() }),
    // The next round (a minute later) is the retry.
    policy: { ...standard, retryLimit: 0, expireInSeconds: 5 * 60 },
  },
  'tokens.rotate': {
    description: 'Re-seal stored tokens still sealed with a previous encryption key, so that key can be removed (R-11).',
    payload: z.strictObject({}),
    policy: { ...standard, retryLimit: 3, retryDelaySeconds: 300, expireInSeconds: 60 * 60 },
  },
  'contract.suspend': {
    description: 'Delete all third-party data of a suspended contract and write the deletion receipt (R-70).',
    payload: z.strictObject({ contractId: id }),
    policy: { ...standard, retryLimit: 10, expireInSeconds: 60 * 60 },
  },
  'candidate.backfill': {
    description: "Fetch a newly added candidate's past conversations for every authorized seat (R-39).",
    // Without a grant: fans out one job per authorized email grant of the contract.
    payload: z.strictObject({ contractId: id, candidateId: id, authorizationId: id.optional() }),
    policy: standard,
  },
} satisfies Record<string, QueueDefinition>;

export type QueueName = keyof typeof QUEUES;
export type Payload<Q extends QueueName> = z.infer<(typeof QUEUES)[Q]['payload']>;

export const QUEUE_NAMES = Object.keys(QUEUES) as QueueName[];

export function isQueueName(name: string): name is QueueName {
  return Object.hasOwn(QUEUES, name);
}

export class UnknownQueueError extends Error {
  constructor(readonly queue: string) {
    super(`no queue named ${queue}: add it to src/jobs/queues.ts`);
  }
}

/** Validates a payload against its queue's schema (on send, and again before a handler sees it). */
export function parsePayload<Q extends QueueName>(queue: Q, payload: unknown): Payload<Q> {
  if (!isQueueName(queue)) throw new UnknownQueueError(queue);
  return QUEUES[queue].payload.parse(payload) as Payload<Q>;
}
