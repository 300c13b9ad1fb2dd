import type { Kysely } from 'kysely';
import type { DB } from '../store/schema.ts';
import { auditActorOf, type Actor } from './actors.ts';

/**
 * every settings change, authorization, deauthorization, deletion run and purge is appended to the
 * contract's audit log (who, what, when, counts). The table rejects updates and deletes (migration 0001).
 */
export interface AuditEntry {
  contractId: string;
  actor: Actor | 'system';
  action: string;
  targetType?: string;
  targetId?: string;
  details?: Record<string, unknown>;
  at: Date;
}

export async function recordAudit(db: Kysely<DB>, entry: AuditEntry): Promise<void> {
  await db
    .insertInto('audit_log')
    .values({
      contract_id: entry.contractId,
      at: entry.at,
      ...auditActorOf(entry.actor),
      action: entry.action,
      target_type: entry.targetType ?? null,
      target_id: entry.targetId ?? null,
      details: JSON.stringify(entry.details ?? {}),
    })
    .execute();
}

export interface AuditPage {
  entries: Array<{
    id: number;
    at: Date;
    actorKind: string;
    actorUserId: string | null;
    /** The integration token that performed it, itself or acting as `actorUserId`. */
    actorTokenId: string | null;
    action: string;
    targetType: string | null;
    targetId: string | null;
    details: Record<string, unknown>;
  }>;
  nextCursor: string | null;
}

/** Newest first, paged by id (a stable cursor even while entries are appended). */
export async function listAudit(
  db: Kysely<DB>,
  contractId: string,
  page: { limit: number; before?: number | undefined },
): Promise<AuditPage> {
  let query = db
    .selectFrom('audit_log')
    .selectAll()
    .where('contract_id', '=', contractId)
    .orderBy('id', 'desc')
    .limit(page.limit + 1);
  if (page.before !== undefined) query = query.where('id', '<', page.before);
  const rows = await query.execute();
  const more = rows.length > page.limit;
  const entries = rows.slice(0, page.limit).map((r) => ({
    id: Number(r.id),
    at: r.at,
    actorKind: r.actor_kind,
    actorUserId: r.actor_user_id,
    actorTokenId: r.actor_token_id,
    action: r.action,
    targetType: r.target_type,
    targetId: r.target_id,
    details: r.details,
  }));
  return { entries, nextCursor: more ? String(entries[entries.length - 1]?.id) : null };
}
