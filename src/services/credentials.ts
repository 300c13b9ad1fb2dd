import { createHash, createHmac, randomBytes, scrypt as scryptCallback, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import type { Kysely } from 'kysely';
import { AppError } from '../errors.ts';
import { newId } from '../ids.ts';
import type { DB } from '../store/schema.ts';
import type { Actor } from './actors.ts';
import { recordAudit } from './audit.ts';
import type { ServiceContext } from './context.ts';
import { assertNotThrottled, recordFailure, recordSuccess, throttleKeys } from './sign-in-throttle.ts';

const scrypt = promisify(scryptCallback) as (password: string, salt: Buffer, keylen: number, options: object) => Promise<Buffer>;

// OWASP's scrypt baseline (N=2^17, r=8, p=1) costs 128 MiB per hash; 2^15 keeps sign-in fast on small machines.
const SCRYPT = { N: 2 ** 15, r: 8, p: 1, keylen: 32, maxmem: 64 * 1024 * 1024 };

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const hash = await scrypt(password, salt, SCRYPT.keylen, SCRYPT);
  return ['scrypt', SCRYPT.N, SCRYPT.r, SCRYPT.p, salt.toString('base64url'), hash.toString('base64url')].join('$');
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, salt, hash] = stored.split('$');
  if (scheme !== 'scrypt' || !n || !r || !p || !salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64url');
  const actual = await scrypt(password, Buffer.from(salt, 'base64url'), expected.length, {
    N: Number(n),
    r: Number(r),
    p: Number(p),
    maxmem: SCRYPT.maxmem,
  });
  return timingSafeEqual(actual, expected);
}

/** Bearer and session secrets are 256-bit random strings, so a fast hash is enough to store them. */
const hashSecret = (secret: string): string => createHash('sha256').update(secret).digest('base64url');
const newSecret = (prefix: string): string => `${prefix}_${randomBytes(32).toString('base64url')}`;

/**
 * Stores a new bearer token (hashed). `createdBy` is the system token that asked for it (R-63: contract
 * tokens come from the host system only, see services/contracts.ts), `purpose` the reason it gave.
 */
export async function createApiToken(
  ctx: ServiceContext,
  scope: { kind: 'system' } | { kind: 'contract'; contractId: string },
  origin: { createdBy?: string | null; purpose?: string | null } = {},
): Promise<{ id: string; token: string }> {
  const token = newSecret(scope.kind === 'system' ? 'rs_sys' : 'rs_ct');
  const id = newId();
  await ctx.db
    .insertInto('api_tokens')
    .values({
      id,
      kind: scope.kind,
      contract_id: scope.kind === 'contract' ? scope.contractId : null,
      token_hash: hashSecret(token),
      created_at: ctx.clock.now(),
      revoked_at: null,
      created_by: origin.createdBy ?? null,
      purpose: origin.purpose ?? null,
    })
    .execute();
  return { id, token };
}

/** Resolves `Authorization: Bearer` (+ optional `X-Act-As-User`) to an actor, or throws `unauthenticated`. */
export async function actorFromBearer(db: Kysely<DB>, token: string, actAsUserId: string | undefined): Promise<Actor> {
  const row = await db
    .selectFrom('api_tokens')
    .select(['id', 'kind', 'contract_id'])
    .where('token_hash', '=', hashSecret(token))
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  if (!row) throw new AppError('unauthenticated', 'The bearer token is unknown or revoked.');
  if (actAsUserId === undefined) return { kind: 'integration', tokenId: row.id, contractId: row.contract_id };
  const user = await findUser(db, actAsUserId);
  // A contract token can only act as users of its own contract; others do not exist for it.
  if (!user || (row.contract_id !== null && user.contract_id !== row.contract_id)) {
    throw new AppError('not_found', 'X-Act-As-User names no user this token can act as.');
  }
  return { kind: 'user', userId: user.id, contractId: user.contract_id, role: user.role, via: 'integration', tokenId: row.id };
}

/**
 * acting as a user is the host system's integration only, and every use is audited — one entry per
 * request, written before the request runs (so refused and failed requests count too): who (the token), as
 * whom (the target user), what (method and route pattern, never the URL with its ids or query) and why (the
 * optional `X-Act-As-Reason`). Per request rather than coalesced per minute: an audit log that merges uses
 * can no longer say which reads and sends happened, and the volume is bounded by the integration's traffic.
 */
export async function auditActAs(
  ctx: ServiceContext,
  actor: Extract<Actor, { kind: 'user' }>,
  use: { method: string; route: string; reason: string | null },
): Promise<void> {
  await recordAudit(ctx.db, {
    contractId: actor.contractId,
    actor: { kind: 'integration', tokenId: actor.tokenId ?? 'unknown', contractId: actor.contractId },
    action: 'integration.acted_as',
    targetType: 'user',
    targetId: actor.userId,
    at: ctx.clock.now(),
    details: { method: use.method, route: use.route, reason: use.reason },
  });
}

async function findUser(db: Kysely<DB>, userId: string) {
  if (!isUuid(userId)) return undefined;
  return db.selectFrom('users').select(['id', 'contract_id', 'role']).where('id', '=', userId).executeTakeFirst();
}

export const isUuid = (value: string): boolean =>
  /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value);

const SESSION_LIFETIME_MS = 12 * 60 * 60 * 1000;

export interface SessionGrant {
  sessionToken: string;
  csrfToken: string;
  expiresAt: Date;
  user: { id: string; contractId: string; email: string; name: string; role: 'admin' | 'recruiter' };
}

/**
 * Signs in by email and password, throttled per account and per client address (see sign-in-throttle.ts).
 * Emails are unique per contract only, so one address may name users of several contracts: each of them with a
 * password is tried, oldest first, and the first whose password matches is signed in (people with accounts in
 * two companies use a different password for each). Unknown address, no password or a wrong one: the same answer
 * after similar work.
 */
export async function signIn(ctx: ServiceContext, email: string, password: string, clientAddress: string): Promise<SessionGrant> {
  const keys = throttleKeys(email, clientAddress);
  await assertNotThrottled(ctx.db, keys, ctx.clock.now());
  const candidates = await ctx.db
    .selectFrom('users')
    .selectAll()
    .where((eb) => eb(eb.fn('lower', ['email']), '=', email.trim().toLowerCase()))
    .where('password_hash', 'is not', null)
    .orderBy('created_at')
    .orderBy('id')
    .execute();
  let user: (typeof candidates)[number] | undefined;
  for (const candidate of candidates) {
    if (await verifyPassword(password, candidate.password_hash as string)) {
      user = candidate;
      break;
    }
  }
  if (candidates.length === 0) await hashPassword(password);
  if (!user) {
    await recordFailure(ctx.db, keys, ctx.clock.now());
    throw new AppError('unauthenticated', 'Wrong email or password.');
  }
  await recordSuccess(ctx.db, keys);
  const sessionToken = newSecret('rs_sess');
  const now = ctx.clock.now();
  const expiresAt = new Date(now.getTime() + SESSION_LIFETIME_MS);
  await ctx.db
    .insertInto('sessions')
    .values({ id: newId(), user_id: user.id, token_hash: hashSecret(sessionToken), created_at: now, expires_at: expiresAt })
    .execute();
  return {
    sessionToken,
    csrfToken: csrfTokenFor(sessionToken),
    expiresAt,
    user: { id: user.id, contractId: user.contract_id, email: user.email, name: user.name, role: user.role },
  };
}

export async function signOut(ctx: ServiceContext, sessionToken: string): Promise<void> {
  await ctx.db.deleteFrom('sessions').where('token_hash', '=', hashSecret(sessionToken)).execute();
}

export async function actorFromSession(ctx: ServiceContext, sessionToken: string): Promise<Actor | undefined> {
  const row = await ctx.db
    .selectFrom('sessions')
    .innerJoin('users', 'users.id', 'sessions.user_id')
    .select(['users.id as userId', 'users.contract_id as contractId', 'users.role as role', 'sessions.expires_at as expiresAt'])
    .where('sessions.token_hash', '=', hashSecret(sessionToken))
    .executeTakeFirst();
  if (!row || row.expiresAt.getTime() <= ctx.clock.now().getTime()) return undefined;
  return { kind: 'user', userId: row.userId, contractId: row.contractId, role: row.role, via: 'session' };
}

/**
 * The CSRF token is derived from the (httpOnly) session secret: the UI reads it from `GET /session`, which a
 * cross-site page cannot read, and sends it back in `X-CSRF-Token` on every state-changing request.
 */
export function csrfTokenFor(sessionToken: string): string {
  return createHmac('sha256', sessionToken).update('csrf').digest('base64url');
}

export function csrfTokenMatches(sessionToken: string, presented: string | undefined): boolean {
  if (!presented) return false;
  const expected = Buffer.from(csrfTokenFor(sessionToken));
  const actual = Buffer.from(presented);
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}
