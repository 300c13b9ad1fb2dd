import { sql, type Selectable } from 'kysely';
import { newId } from '../ids.ts';
import type { Jobs } from '../jobs/index.ts';
import type { ContractDeletionReceiptsTable } from '../store/schema.ts';
import { assertContractAdmin, conflict, requireFound, type Actor } from './actors.ts';
import { recordAudit } from './audit.ts';
import type { ServiceContext, Tx } from './context.ts';
import type { MailboxDeps } from './mailbox-authorization.ts';
import { stopContractPush } from './push-stops.ts';

/**
 * suspending a contract deletes all of its third-party data — in a durable job (`contract.suspend`), batch by
 * batch — and records a deletion receipt with counts per kind. Each table that holds third-party data registers here, in deletion order
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
  'project_candidates', 'api_tokens', 'audit_log', 'contract_deletion_receipts',
];

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

export type ReceiptStatus = 'queued' | 'running' | 'done';

/** What a caller sees of one suspension's deletion: counts per kind so far (final once `done`). */
export interface DeletionReceipt {
  id: string;
  contractId: string;
  status: ReceiptStatus;
  requestedAt: string;
  finishedAt: string | null;
  counts: Record<string, number>;
  /** Grants revoked at the provider before their tokens were deleted (null until that step ran); where revoking failed, the tokens are deleted all the same. */
  revocations: ProviderRevocation | null;
}

type ReceiptRow = Selectable<ContractDeletionReceiptsTable>;

const asJson = <T>(value: T | string): T => (typeof value === 'string' ? (JSON.parse(value) as T) : value);

export const receiptView = (row: ReceiptRow): DeletionReceipt => ({
  id: row.id,
  contractId: row.contract_id,
  status: row.status,
  requestedAt: row.requested_at.toISOString(),
  finishedAt: row.finished_at ? row.finished_at.toISOString() : null,
  counts: asJson(row.counts),
  revocations: row.revocations === null ? null : asJson(row.revocations),
});

export type SuspensionJobs = Pick<Jobs, 'send'> | undefined;

const unfinishedReceipt = (db: Tx | ServiceContext['db'], contractId: string) =>
  db.selectFrom('contract_deletion_receipts').selectAll().where('contract_id', '=', contractId).where('status', '<>', 'done');

/**
 * R-70, in the transaction that flips the contract to `suspended` (its row locked FOR UPDATE, which waits for every
 * ingest batch in flight: they hold it FOR SHARE). Writes the receipt and enqueues the deletion job in the same
 * transaction, so a suspension is never left without its job. The deletion itself runs in the job.
 */
export async function beginSuspension(trx: Tx, jobs: SuspensionJobs, contractId: string, actor: Actor, now: Date): Promise<DeletionReceipt> {
  const row = await trx
    .insertInto('contract_deletion_receipts')
    .values({ id: newId(), contract_id: contractId, status: 'queued', counts: JSON.stringify(zeroCounts()), revocations: null, requested_by_token_id: actor.kind === 'integration' ? actor.tokenId : (actor.tokenId ?? null), requested_at: now })
    .returningAll()
    .executeTakeFirstOrThrow();
  if (jobs) await jobs.send('contract.suspend', { contractId }, { singletonKey: suspendKey(contractId), transaction: trx });
  return receiptView(row);
}

/** Every kind at 0: the receipt names each kind of data, deleted or not. */
const zeroCounts = (): Record<string, number> => Object.fromEntries(THIRD_PARTY_DATA_TABLES.map(({ kind }) => [kind, 0]));

const suspendKey = (contractId: string) => `contract.suspend:${contractId}`;

/**
 * Reactivation starts from nothing, so it waits until the deletion is done: while the job has not finished,
 * reactivating is refused (409 conflict) and the host system tries again later.
 */
export async function assertDeletionDone(trx: Tx, contractId: string): Promise<void> {
  const pending = await unfinishedReceipt(trx, contractId).select([]).executeTakeFirst();
  if (pending) throw conflict("This company's data is still being deleted after its suspension. It can be reactivated once the deletion is done.");
}

/** The latest receipt of the contract (an already suspended contract answers with it). */
export async function latestReceipt(db: Tx, contractId: string): Promise<DeletionReceipt | undefined> {
  const row = await db.selectFrom('contract_deletion_receipts').selectAll().where('contract_id', '=', contractId).orderBy('requested_at', 'desc').limit(1).executeTakeFirst();
  return row ? receiptView(row) : undefined;
}

/** GET /contracts/{id}/deletion-receipts/{receiptId}: the system token or the contract's admins. */
export async function getDeletionReceipt(ctx: ServiceContext, actor: Actor, contractId: string, receiptId: string): Promise<DeletionReceipt> {
  assertContractAdmin(actor, contractId);
  const row = await ctx.db.selectFrom('contract_deletion_receipts').selectAll().where('contract_id', '=', contractId).where('id', '=', receiptId).executeTakeFirst();
  return receiptView(requireFound(row, 'deletion receipt'));
}

export interface DeletionRunOptions {
  /** Rows per table deleted in one transaction. */
  batchSize?: number;
  /** Called after each committed batch (tests stop a worker here). */
  afterBatch?: (step: { table: string; deleted: number }) => Promise<void>;
}

/**
 * The `contract.suspend` job: revokes the contract's grants at the provider, takes mailbox addresses out of
 * the audit log, then deletes every third-party row in batches, each batch adding its counts to the receipt in its
 * own transaction (the receipt row locked, so concurrent runs count exactly once). Idempotent: a run after a crash
 * or a retry skips finished steps and deletes what is left. Returns the finished receipt, or null when none was
 * unfinished.
 */
export async function runContractDeletion(deps: MailboxDeps, contractId: string, options: DeletionRunOptions = {}): Promise<DeletionReceipt | null> {
  const batchSize = Math.max(1, options.batchSize ?? 500);
  let receipt = await unfinishedReceipt(deps.db, contractId).executeTakeFirst();
  if (!receipt) return null;
  const receiptId = receipt.id;
  if (receipt.status === 'queued') {
    await deps.db.updateTable('contract_deletion_receipts').set({ status: 'running', started_at: deps.clock.now() }).where('id', '=', receiptId).where('status', '=', 'queued').execute();
  }
  if (receipt.revocations === null) {
    // Network calls: outside any transaction. A crash before the result is stored revokes again (counted as failed
    // where the provider no longer knows the token); the tokens are deleted below whatever the provider answered.
    const revocations = await revokeContractGrants(deps, contractId);
    await deps.db.updateTable('contract_deletion_receipts').set({ revocations: JSON.stringify(revocations) }).where('id', '=', receiptId).where('revocations', 'is', null).execute();
  }
  // Before the grants go: their addresses are what the audit log must no longer hold.
  await deps.db.transaction().execute((trx) => redactMailboxAddresses(trx, contractId));
  // The provider quota budget is keyed by mailbox address: it goes with the grants (while they still name
  // the mailboxes), unless another company's grant draws on the same mailbox.
  await sql`
    DELETE FROM quota_budgets q USING mailbox_authorizations g
    WHERE g.contract_id = ${contractId} AND q.provider = g.provider AND q.address = lower(g.address)
      AND NOT EXISTS (SELECT 1 FROM mailbox_authorizations o WHERE o.contract_id <> ${contractId} AND o.provider = g.provider AND lower(o.address) = q.address)`.execute(deps.db);
  // Sweep until a whole pass finds nothing: a row written by a path that raced the status change goes too.
  for (let pass = 0; pass < 5; pass++) {
    let deletedThisPass = 0;
    for (const { table, kind } of THIRD_PARTY_DATA_TABLES) {
      for (;;) {
        const deleted = await deps.db.transaction().execute(async (trx) => {
          const locked = await trx.selectFrom('contract_deletion_receipts').select(['status', 'counts']).where('id', '=', receiptId).forUpdate().executeTakeFirstOrThrow();
          if (locked.status === 'done') return 0;
          const result = await sql`DELETE FROM ${sql.table(table)} WHERE ctid IN (SELECT ctid FROM ${sql.table(table)} WHERE contract_id = ${contractId} LIMIT ${batchSize})`.execute(trx);
          const n = Number(result.numAffectedRows ?? 0n);
          if (n > 0) {
            const counts = asJson(locked.counts);
            counts[kind] = (counts[kind] ?? 0) + n;
            await trx.updateTable('contract_deletion_receipts').set({ counts: JSON.stringify(counts) }).where('id', '=', receiptId).execute();
          }
          return n;
        });
        deletedThisPass += deleted;
        if (deleted > 0) await options.afterBatch?.({ table, deleted });
        if (deleted < batchSize) break;
      }
    }
    if (deletedThisPass === 0) break;
  }
  const now = deps.clock.now();
  receipt = await deps.db.transaction().execute(async (trx) => {
    const locked = await trx.selectFrom('contract_deletion_receipts').selectAll().where('id', '=', receiptId).forUpdate().executeTakeFirstOrThrow();
    if (locked.status === 'done') return locked;
    const done = await trx
      .updateTable('contract_deletion_receipts')
      .set({ status: 'done', finished_at: now, started_at: locked.started_at ?? now })
      .where('id', '=', receiptId)
      .returningAll()
      .executeTakeFirstOrThrow();
    // Suspension is the host system's: the audit names the system token that asked for it.
    const actor: Actor | 'system' = locked.requested_by_token_id ? { kind: 'integration', tokenId: locked.requested_by_token_id, contractId: null } : 'system';
    const { contractId: _contract, ...details } = receiptView(done);
    await recordAudit(trx, { contractId, actor, action: 'contract.suspended', at: now, details: { deletionReceipt: details } });
    return done;
  });
  return receiptView(receipt);
}

/**
 * The `contract.suspend` queue's handler (pg-boss retries a failed run, which goes on where it stopped). A run killed
 * with its worker stays `active` in the queue until it expires, so at every worker start the unfinished deletions
 * are enqueued again (one waiting job per contract) and a restarted worker finishes them. Returns how many.
 */
export async function registerSuspensionWorker(jobs: Pick<Jobs, 'work' | 'send'>, deps: MailboxDeps, options: DeletionRunOptions = {}): Promise<number> {
  jobs.work('contract.suspend', async ({ contractId }) => {
    await runContractDeletion(deps, contractId, options);
  });
  const rows = await deps.db.selectFrom('contract_deletion_receipts').select('contract_id').where('status', '<>', 'done').execute();
  for (const row of rows) await jobs.send('contract.suspend', { contractId: row.contract_id }, { singletonKey: suspendKey(row.contract_id) });
  return rows.length;
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
