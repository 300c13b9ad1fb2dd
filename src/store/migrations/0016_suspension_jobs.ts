import { sql, type Kysely } from 'kysely';

/**
 * R-70 as a durable job: suspending a contract writes a deletion receipt (`queued`) with the status change, and
 * the `contract.suspend` job deletes the contract's third-party data in batches, adding each batch's counts to the
 * receipt in the batch's own transaction, so a run killed midway leaves exact counts and a re-run deletes what is
 * left. The receipt holds counts only, never anything of the deleted data; it is the company's record of the
 * deletion and stays after it (a first-party table).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE contract_deletion_receipts (
      id uuid PRIMARY KEY,
      contract_id uuid NOT NULL REFERENCES contracts(id),
      status text NOT NULL CHECK (status IN ('queued', 'running', 'done')),
      counts jsonb NOT NULL DEFAULT '{}'::jsonb,
      revocations jsonb,
      requested_by_token_id uuid,
      requested_at timestamptz NOT NULL,
      started_at timestamptz,
      finished_at timestamptz
    )`.execute(db);
  // At most one unfinished deletion per contract: reactivation waits for it, so a second suspension cannot overlap.
  await sql`CREATE UNIQUE INDEX contract_deletion_receipts_unfinished ON contract_deletion_receipts (contract_id) WHERE status <> 'done'`.execute(db);
  await sql`CREATE INDEX contract_deletion_receipts_contract ON contract_deletion_receipts (contract_id, requested_at)`.execute(db);
}
