import { sql } from 'kysely';
import type { Actor } from './actors.ts';
import { recordAudit } from './audit.ts';
import type { Tx } from './context.ts';
import type { MailboxDeps } from './mailbox-authorization.ts';
import { stopContractPush } from './push-stops.ts';

/**
 * suspending a contract deletes all of its third-party data in one transaction and returns a deletion
 * receipt with counts per kind. Each table that holds third-party data registers here, in deletion order
 * (children first); a test scans the schema so a table that is forgotten here fails the suite.
 */
export const THIRD_PARTY_DATA_TABLES: ReadonlyArray<{ table: string; kind: string }> = [
  { table: 'calendar_events', kind: 'calendarEvents' },
  { table: 'mail_attachments', kind: 'attachments' },
  { table: 'mail_messages', kind: 'messages' },
  { table: 'mail_threads', kind: 'threads' },
  { table: 'ingestion_decisions', kind: 'decisions' },
  { table: 'purged_threads', kind: 'purgeMarkers' },
  { table: 'push_subscriptions', kind: 'pushSubscriptions' },
  { table: 'push_stops', kind: 'pushSubscriptions' },
  { table: 'sync_states', kind: 'cursors' },
  { table: 'oauth_states', kind: 'authorizationAttempts' },
  { table: 'token_revocations', kind: 'tokens' },
  { table: 'mailbox_authorizations', kind: 'authorizations' },
];

/**
 * Tables with a contract_id that hold the company's own data (its people, pipeline, settings, audit), which
 * suspension keeps. Every table with a contract_id is in exactly one of the two lists (a test checks).
 */
export const FIRST_PARTY_TABLES: readonly string[] = [
  'users', 'seats', 'seat_holders', 'candidates', 'candidate_emails', 'candidate_connections', 'projects',
  'project_candidates', 'api_tokens', 'audit_log',
];

export type DeletionReceipt = {
  contractId: string;
  deletedAt: string;
  counts: Record<string, number>;
  /** Grants revoked at the provider before their tokens were deleted; where that failed, the tokens are deleted all the same. */
  revocations: { revoked: number; unsupported: number; failed: number };
};

export interface ProviderRevocation {
  revoked: number;
  unsupported: number;
  failed: number;
}

/**
 * R-70, first step, outside any transaction (it calls the providers): end every push channel of the contract, then
 * revoke every grant of the contract whose token we still hold, and every token still queued for revocation. A
 * failure is counted, never blocking: the deletion that follows removes the tokens whatever the provider answered.
 */
export async function revokeContractGrants(deps: MailboxDeps, contractId: string): Promise<ProviderRevocation> {
  const result: ProviderRevocation = { revoked: 0, unsupported: 0, failed: 0 };
  // Push channels first: ending a Gmail watch or a Graph subscription needs a token that still works.
  await stopContractPush(deps, contractId);
  const grants = await deps.db
    .selectFrom('mailbox_authorizations')
    .select(['id', 'provider', 'refresh_token_ciphertext'])
    .where('contract_id', '=', contractId)
    .where('refresh_token_ciphertext', 'is not', null)
    .execute();
  const queued = await deps.db.selectFrom('token_revocations').select(['provider', 'token_ciphertext', 'token_bound_to']).where('contract_id', '=', contractId).execute();
  const tokens = [
    ...grants.map((g) => ({ provider: g.provider, ciphertext: g.refresh_token_ciphertext!, boundTo: `${g.id}:refresh` })),
    ...queued.map((q) => ({ provider: q.provider, ciphertext: q.token_ciphertext, boundTo: q.token_bound_to })),
  ];
  for (const token of tokens) {
    try {
      const outcome = await deps.providers.oauth(token.provider).revoke(deps.cipher.open(token.ciphertext, token.boundTo));
      result[outcome === 'revoked' ? 'revoked' : 'unsupported']++;
    } catch {
      result.failed++;
    }
  }
  return result;
}

export async function runSuspension(trx: Tx, contractId: string, actor: Actor | 'system', now: Date, revocations: ProviderRevocation): Promise<DeletionReceipt> {
  const counts: Record<string, number> = {};
  for (const { table, kind } of THIRD_PARTY_DATA_TABLES) {
    const result = await sql`DELETE FROM ${sql.table(table)} WHERE contract_id = ${contractId}`.execute(trx);
    counts[kind] = (counts[kind] ?? 0) + Number(result.numAffectedRows ?? 0n);
  }
  const receipt: DeletionReceipt = { contractId, deletedAt: now.toISOString(), counts, revocations };
  await recordAudit(trx, { contractId, actor, action: 'contract.suspended', at: now, details: { deletionReceipt: receipt } });
  return receipt;
}
