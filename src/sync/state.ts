import type { Kysely } from 'kysely';
import type { DB } from '../store/schema.ts';

/** What `GET /seats/{id}/mailbox` and `/contracts/{id}/sync-health` show of a grant's sync. */
export interface SyncStateView {
  phase: 'idle' | 'historical' | 'incremental' | 'paused';
  messagesIngested: number;
  messagesExamined: number;
  /** 0..1 during the historical sync (1 once it is done); null before anything is known. */
  progress: number | null;
  estimatedCompletionAt: Date | null;
  lastSyncedAt: Date | null;
  lastError: string | null;
}

export const IDLE_SYNC_STATE: SyncStateView = {
  phase: 'idle',
  messagesIngested: 0,
  messagesExamined: 0,
  progress: null,
  estimatedCompletionAt: null,
  lastSyncedAt: null,
  lastError: null,
};

export async function syncStateView(db: Kysely<DB>, authorizationId: string, now?: Date): Promise<SyncStateView> {
  const row = await db.selectFrom('sync_states').selectAll().where('authorization_id', '=', authorizationId).executeTakeFirst();
  if (!row) return { ...IDLE_SYNC_STATE };
  const examined = row.messages_examined;
  let progress: number | null = null;
  let estimatedCompletionAt: Date | null = null;
  if (row.historical_completed_at) progress = 1;
  else if (row.phase === 'historical' && row.messages_estimated !== null && row.messages_estimated > 0) {
    // The estimate may be an upper bound (Graph folder totals): stay below 1 until the scan is really done.
    progress = Math.min(0.99, examined / row.messages_estimated);
    const started = row.historical_started_at?.getTime();
    const at = (now ?? row.updated_at).getTime();
    if (started !== undefined && examined > 0 && at > started) {
      const remaining = Math.max(0, row.messages_estimated - examined);
      estimatedCompletionAt = new Date(at + ((at - started) / examined) * remaining);
    }
  }
  return {
    phase: row.phase,
    messagesIngested: row.messages_ingested,
    messagesExamined: examined,
    progress,
    estimatedCompletionAt,
    lastSyncedAt: row.last_synced_at,
    lastError: row.last_error,
  };
}
