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
  /** One word for the seat's page and sync health alike (see `syncStatus`). */
  status: SyncStatus;
  /** When the provider last accepted the grant (a sync or the health probe); null when not known. */
  lastCheckedAt: Date | null;
}

/**
 * What the seat's page and the admin's sync health both say, from the grant and its sync:
 * `reconnect_needed` when the provider refused the grant; `up_to_date` only when mail was read from the provider
 * within UP_TO_DATE_MS and the last run had no error; `behind` otherwise once the historical sync is done;
 * `historical` while it runs; `starting` before it began; `not_connected` / `disconnected` without a grant.
 */
export type SyncStatus = 'not_connected' | 'disconnected' | 'reconnect_needed' | 'starting' | 'historical' | 'up_to_date' | 'behind';
export const SYNC_STATUSES = ['not_connected', 'disconnected', 'reconnect_needed', 'starting', 'historical', 'up_to_date', 'behind'] as const;
/** Mail read from the provider longer ago than this is not "up to date" (the poll reads every minute). */
export const UP_TO_DATE_MS = 10 * 60_000;

export function syncStatus(
  grantState: 'not_authorized' | 'authorized' | 'needs_reauthorization' | 'deauthorized' | null,
  sync: { phase: SyncStateView['phase']; lastSyncedAt: Date | null; lastError: string | null },
  now: Date,
): SyncStatus {
  if (grantState === 'needs_reauthorization') return 'reconnect_needed';
  if (grantState === 'deauthorized') return 'disconnected';
  if (grantState !== 'authorized') return 'not_connected';
  if (sync.phase === 'idle') return 'starting';
  if (sync.phase === 'historical') return 'historical';
  const recent = sync.lastSyncedAt !== null && now.getTime() - sync.lastSyncedAt.getTime() <= UP_TO_DATE_MS;
  return recent && sync.lastError === null ? 'up_to_date' : 'behind';
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
  status: 'not_connected',
  lastCheckedAt: null,
};

export async function syncStateView(db: Kysely<DB>, authorizationId: string, now?: Date): Promise<SyncStateView> {
  const row = await db.selectFrom('sync_states').selectAll().where('authorization_id', '=', authorizationId).executeTakeFirst();
  const grant = await db.selectFrom('mailbox_authorizations').select(['state', 'last_checked_at']).where('id', '=', authorizationId).executeTakeFirst();
  const at = now ?? new Date();
  if (!row) return { ...IDLE_SYNC_STATE, status: syncStatus(grant?.state ?? null, IDLE_SYNC_STATE, at), lastCheckedAt: grant?.last_checked_at ?? null };
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
    const from = (now ?? row.updated_at).getTime();
    if (started !== undefined && examined > 0 && from > started) {
      const remaining = Math.max(0, row.messages_estimated - examined);
      estimatedCompletionAt = new Date(from + ((from - started) / examined) * remaining);
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
    status: syncStatus(grant?.state ?? null, { phase: row.phase, lastSyncedAt: row.last_synced_at, lastError: row.last_error }, at),
    // A completed sync run is the provider accepting the grant too.
    lastCheckedAt: latest(grant?.last_checked_at ?? null, row.last_synced_at),
  };
}

const latest = (a: Date | null, b: Date | null): Date | null => (a === null ? b : b === null ? a : a.getTime() >= b.getTime() ? a : b);
