import { sql } from 'kysely';
import type { Actor } from './actors.ts';
import { recordAudit } from './audit.ts';
import type { Tx } from './context.ts';

/**
 * suspending a contract deletes all of its third-party data in one transaction and returns a deletion
 * receipt with counts per kind. Each table that holds third-party data registers here, in deletion order
 * (children first); a test scans the schema so a table that is forgotten here fails the suite.
 */
export const THIRD_PARTY_DATA_TABLES: ReadonlyArray<{ table: string; kind: string }> = [
  { table: 'mailbox_authorizations', kind: 'authorizations' },
];

export type DeletionReceipt = { contractId: string; deletedAt: string; counts: Record<string, number> };

export async function runSuspension(trx: Tx, contractId: string, actor: Actor | 'system', now: Date): Promise<DeletionReceipt> {
  const counts: Record<string, number> = {};
  for (const { table, kind } of THIRD_PARTY_DATA_TABLES) {
    const result = await sql`DELETE FROM ${sql.table(table)} WHERE contract_id = ${contractId}`.execute(trx);
    counts[kind] = (counts[kind] ?? 0) + Number(result.numAffectedRows ?? 0n);
  }
  const receipt: DeletionReceipt = { contractId, deletedAt: now.toISOString(), counts };
  await recordAudit(trx, { contractId, actor, action: 'contract.suspended', at: now, details: { deletionReceipt: receipt } });
  return receipt;
}
