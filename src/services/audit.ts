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
    /** The actor's name today (null for the system, an integration acting as itself, or a deleted user). */
    actorName: string | null;
    /** The integration token that performed it, itself or acting as `actorUserId`. */
    actorTokenId: string | null;
    action: string;
    targetType: string | null;
    targetId: string | null;
    /**
     * The target by name, for sentences: a user's or a candidate's name, a seat's holder, a token's purpose, and
     * a thread's or message's subject only while it is shared with the company: the audit log is
     * read by admins, who must not learn the subject of private mail. Null when there is none to show.
     */
    targetName: string | null;
    /** Names of the users the details mention (fromUserId, toUserId, userId). */
    userNames: Record<string, string>;
    details: Record<string, unknown>;
  }>;
  nextCursor: string | null;
}

export interface AuditQuery {
  limit: number;
  before?: number | undefined;
  /** Only entries performed by this user (signed in, or acted as by an integration). */
  actorUserId?: string | undefined;
  /** Only entries of this action, e.g. `settings.changed`. */
  action?: string | undefined;
}

const DETAIL_USER_KEYS = ['fromUserId', 'toUserId', 'userId'] as const;

/** Newest first, paged by id (a stable cursor even while entries are appended). */
export async function listAudit(db: Kysely<DB>, contractId: string, page: AuditQuery): Promise<AuditPage> {
  let query = db
    .selectFrom('audit_log')
    .selectAll()
    .where('contract_id', '=', contractId)
    .orderBy('id', 'desc')
    .limit(page.limit + 1);
  if (page.before !== undefined) query = query.where('id', '<', page.before);
  if (page.actorUserId !== undefined) query = query.where('actor_user_id', '=', page.actorUserId);
  if (page.action !== undefined) query = query.where('action', '=', page.action);
  const fetched = await query.execute();
  const more = fetched.length > page.limit;
  const rows = fetched.slice(0, page.limit);
  const names = await resolveNames(db, contractId, rows);
  const entries = rows.map((r) => {
    const userNames: Record<string, string> = {};
    for (const key of DETAIL_USER_KEYS) {
      const id = r.details[key];
      if (typeof id === 'string' && names.users.has(id)) userNames[id] = names.users.get(id)!;
    }
    return {
      id: Number(r.id),
      at: r.at,
      actorKind: r.actor_kind,
      actorUserId: r.actor_user_id,
      actorName: r.actor_user_id ? (names.users.get(r.actor_user_id) ?? null) : null,
      actorTokenId: r.actor_token_id,
      action: r.action,
      targetType: r.target_type,
      targetId: r.target_id,
      targetName: r.target_type && r.target_id ? (names.targets.get(`${r.target_type}:${r.target_id}`) ?? null) : null,
      userNames,
      details: r.details,
    };
  });
  return { entries, nextCursor: more ? String(entries[entries.length - 1]?.id) : null };
}

type AuditRow = { actor_user_id: string | null; target_type: string | null; target_id: string | null; details: Record<string, unknown> };

/** One query per kind of name on the page, all within the contract. */
async function resolveNames(db: Kysely<DB>, contractId: string, rows: AuditRow[]): Promise<{ users: Map<string, string>; targets: Map<string, string> }> {
  const ids = (type: string) => [...new Set(rows.filter((r) => r.target_type === type && isUuid(r.target_id)).map((r) => r.target_id!))];
  const userIds = new Set<string>();
  for (const r of rows) {
    if (r.actor_user_id) userIds.add(r.actor_user_id);
    if (r.target_type === 'user' && isUuid(r.target_id)) userIds.add(r.target_id!);
    for (const key of DETAIL_USER_KEYS) if (isUuid(r.details[key])) userIds.add(r.details[key] as string);
  }
  const users = new Map<string, string>();
  const targets = new Map<string, string>();
  if (userIds.size > 0) {
    const found = await db.selectFrom('users').select(['id', 'name']).where('contract_id', '=', contractId).where('id', 'in', [...userIds]).execute();
    for (const u of found) users.set(u.id, u.name);
  }
  for (const id of ids('user')) if (users.has(id)) targets.set(`user:${id}`, users.get(id)!);
  const seatIds = ids('seat');
  if (seatIds.length > 0) {
    const holders = await db
      .selectFrom('seats')
      .innerJoin('users', 'users.id', 'seats.user_id')
      .select(['seats.id', 'users.name'])
      .where('seats.contract_id', '=', contractId)
      .where('seats.id', 'in', seatIds)
      .execute();
    for (const h of holders) targets.set(`seat:${h.id}`, h.name);
  }
  const candidateIds = ids('candidate');
  if (candidateIds.length > 0) {
    const found = await db.selectFrom('candidates').select(['id', 'name']).where('contract_id', '=', contractId).where('id', 'in', candidateIds).execute();
    for (const c of found) targets.set(`candidate:${c.id}`, c.name);
  }
  const tokenIds = ids('api_token');
  for (const r of rows) {
    if (r.target_type === 'api_token' && tokenIds.includes(r.target_id!) && typeof r.details.purpose === 'string') targets.set(`api_token:${r.target_id}`, r.details.purpose);
  }
  // A thread is named only when it is shared: it has messages and none of them is private.
  const threadIds = ids('thread');
  if (threadIds.length > 0) {
    const found = await db
      .selectFrom('mail_threads')
      .innerJoin('mail_messages', 'mail_messages.thread_id', 'mail_threads.id')
      .select(['mail_threads.id', 'mail_threads.subject'])
      .select((eb) => eb.fn.count<number>('mail_messages.id').filterWhere('mail_messages.visibility', '=', 'private').as('private'))
      .where('mail_threads.contract_id', '=', contractId)
      .where('mail_threads.id', 'in', threadIds)
      .groupBy(['mail_threads.id', 'mail_threads.subject'])
      .execute();
    for (const t of found) if (Number(t.private) === 0) targets.set(`thread:${t.id}`, t.subject);
  }
  const messageIds = ids('message');
  if (messageIds.length > 0) {
    const found = await db
      .selectFrom('mail_messages')
      .select(['id', 'subject'])
      .where('contract_id', '=', contractId)
      .where('id', 'in', messageIds)
      .where('visibility', '=', 'contract')
      .execute();
    for (const m of found) targets.set(`message:${m.id}`, m.subject);
  }
  return { users, targets };
}

const isUuid = (value: unknown): boolean => typeof value === 'string' && /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value);
