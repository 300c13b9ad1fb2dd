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
  /**
   * push channels live at the provider (a Gmail watch, Graph subscriptions) and when the first one lapses
   * unless renewed; none → the mailbox is kept in step by the poll alone (push not configured, or not started yet).
   */
  push: { channels: number; expiresAt: Date | null };
}

export const IDLE_SYNC_STATE: SyncStateView = {
  phase: 'idle',
  messagesIngested: 0,
  messagesExamined: 0,
  progress: null,
  estimatedCompletionAt: null,
  lastSyncedAt: null,
  lastError: null,
  push: { channels: 0, expiresAt: null },
};

export async function syncStateView(db: Kysely<DB>, authorizationId: string, now?: Date): Promise<SyncStateView> {
  const row = await db.selectFrom('sync_states').selectAll().where('authorization_id', '=', authorizationId).executeTakeFirst();
  if (!row) return { ...IDLE_SYNC_STATE };
  const channels = await db
    .selectFrom('push_subscriptions')
    .select((eb) => [eb.fn.countAll<string>().as('n'), eb.fn.min('expires_at').as('first')])
    .where('authorization_id', '=', authorizationId)
    .executeTakeFirst();
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
    push: { channels: Number(channels?.n ?? 0), expiresAt: channels?.first ? new Date(channels.first) : null },
  };
}
