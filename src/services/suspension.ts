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
  // Before the grants go: their addresses are what the audit log must no longer hold.
  await redactMailboxAddresses(trx, contractId);
  const counts: Record<string, number> = {};
  for (const { table, kind } of THIRD_PARTY_DATA_TABLES) {
    const result = await sql`DELETE FROM ${sql.table(table)} WHERE contract_id = ${contractId}`.execute(trx);
    counts[kind] = (counts[kind] ?? 0) + Number(result.numAffectedRows ?? 0n);
  }
  const receipt: DeletionReceipt = { contractId, deletedAt: now.toISOString(), counts, revocations };
  await recordAudit(trx, { contractId, actor, action: 'contract.suspended', at: now, details: { deletionReceipt: receipt } });
  return receipt;
}

/**
 * the audit log is kept through a suspension, but no provider mailbox address may stay in it. Entries
 * written before addresses were kept out of the log can hold one (`details.address` of `authorization.granted`, an
 * address inside a provider's error message). They lose those values: every `address`/`aliases` key, and every
 * string that names one of the contract's mailboxes. The table's trigger allows only this — an UPDATE that removes
 * from `details` and changes nothing else — and only while `recruiter_sync.redact` is on in this transaction
 * (migration 0011), so the log stays append-only for every other write.
 */
export async function redactMailboxAddresses(trx: Tx, contractId: string): Promise<number> {
  const grants = await trx.selectFrom('mailbox_authorizations').select(['address', 'aliases']).where('contract_id', '=', contractId).execute();
  const addresses = [...new Set(grants.flatMap((g) => [g.address ?? '', ...g.aliases]).map((a) => a.trim().toLowerCase()).filter((a) => a.includes('@')))];
  const rows = await trx
    .selectFrom('audit_log')
    .select(['id', 'details'])
    .where('contract_id', '=', contractId)
    .where((eb) =>
      eb.or([
        sql<boolean>`details ?| array['address', 'aliases']`,
        ...addresses.map((a) => sql<boolean>`strpos(lower(details::text), ${a}) > 0`),
      ]),
    )
    .execute();
  if (rows.length === 0) return 0;
  await sql`SELECT set_config('recruiter_sync.redact', 'on', true)`.execute(trx);
  for (const row of rows) {
    const details = typeof row.details === 'string' ? (JSON.parse(row.details) as unknown) : row.details;
    const redacted = withoutAddresses(details, addresses) ?? {};
    await trx.updateTable('audit_log').set({ details: JSON.stringify(redacted) }).where('id', '=', row.id).execute();
  }
  // Append-only again for the rest of the transaction.
  await sql`SELECT set_config('recruiter_sync.redact', 'off', true)`.execute(trx);
  return rows.length;
}

/** The value with address keys and address-bearing strings removed (never rewritten: the trigger allows removal only). */
function withoutAddresses(value: unknown, addresses: string[]): unknown {
  if (typeof value === 'string') return addresses.some((a) => value.toLowerCase().includes(a)) ? undefined : value;
  if (Array.isArray(value)) return value.map((v) => withoutAddresses(v, addresses)).filter((v) => v !== undefined);
  if (value && typeof value === 'object') {
    const kept: Record<string, unknown> = {};
    for (const [key, v] of Object.entries(value)) {
      if (key === 'address' || key === 'aliases') continue;
      const w = withoutAddresses(v, addresses);
      if (w !== undefined) kept[key] = w;
    }
    return kept;
  }
  return value;
}
