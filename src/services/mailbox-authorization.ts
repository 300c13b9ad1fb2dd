import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { sql, type Selectable } from 'kysely';
import type { TokenCipher } from '../crypto/token-cipher.ts';
import { domainOf } from '../domain/addresses.ts';
import { externalMailboxRefusal, mailboxWarnings, safeRedirectPath } from '../domain/mailbox.ts';
import { SCOPES, scopesAllowSending, scopesFor } from '../domain/scopes.ts';
import type { AuthorizationKind, Provider } from '../domain/types.ts';
import { AppError, forbidden, notFound } from '../errors.ts';
import { newId } from '../ids.ts';
import type { QuotaBudget } from '../providers/budget.ts';
import { ProviderError } from '../providers/errors.ts';
import type { ProviderRegistry } from '../providers/registry.ts';
import type { TokenSet } from '../providers/types.ts';
import type { MailboxAuthorizationsTable, OAuthStatesTable } from '../store/schema.ts';
import { assertContractVisible, type Actor } from './actors.ts';
import { recordAudit } from './audit.ts';
import { deauthorizeGrants } from './authorizations.ts';
import type { ServiceContext } from './context.ts';
import { loadContract } from './contracts.ts';
import { loadSeat } from './seats.ts';

/** SPEC §3 seat authorization: R-10 (PKCE + single-use state, least privilege), R-11, R-12, R-13, R-14, R-22, R-23. */
export interface MailboxDeps extends ServiceContext {
  providers: ProviderRegistry;
  cipher: TokenCipher;
  publicUrl: string;
  /** R-27: the mailboxes' quota budget; the database's with the providers' published limits when absent. */
  quota?: QuotaBudget | undefined;
}

const STATE_LIFETIME_MS = 10 * 60 * 1000;
const sha256 = (value: string): string => createHash('sha256').update(value).digest('base64url');
export const callbackUrl = (deps: Pick<MailboxDeps, 'publicUrl'>, provider: Provider): string => `${deps.publicUrl}/oauth/${provider}/callback`;

/** Only a path of our own UI may follow an authorization: no open redirect through the callback. */
function safeRedirect(value: string | undefined): string {
  return (value && safeRedirectPath(value)) || '/';
}

/**
 * R-14: who started a flow. A browser flow is bound to its session cookie, which the browser sends back with
 * the provider's redirect (SameSite=Lax allows a top-level GET); an integration's flow is bound to its bearer
 * token. Only a hash of the secret is kept, separated by kind so that it never equals a stored token hash.
 */
export interface FlowBinding {
  kind: 'session' | 'integration';
  secret: string;
}
const bindingHash = (binding: FlowBinding): string => sha256(`oauth-binding:${binding.kind}:${binding.secret}`);
const sameHash = (a: string | null, b: string): boolean => a !== null && a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));

/** How long the callback keeps an integration's authorization code for the integration to complete it. */
const PARKED_CODE_LIFETIME_MS = 5 * 60 * 1000;

const SESSION_MISMATCH =
  'This sign-in was started by someone else, or in another browser, so nothing was connected. If you want to connect your own mailbox, start from My email & calendar in the product while signed in as yourself.';

/** R-10: the seat holder starts the authorization; preconditions of R-01, R-02, R-05 are checked first. */
export async function startAuthorization(
  deps: MailboxDeps,
  actor: Actor,
  seatId: string,
  input: { kind: AuthorizationKind; redirectAfter?: string | undefined },
  binding: FlowBinding,
): Promise<{ authorizationUrl: string }> {
  const seat = await loadSeat(deps.db, actor, seatId);
  if (actor.kind !== 'user' || seat.user_id !== actor.userId) {
    throw forbidden('Only the user holding this seat can connect its mailbox (act as that user).');
  }
  if (binding.kind !== actor.via) throw forbidden('The sign-in must be started by the session or integration acting as the seat holder.');
  const contract = await loadContract(deps.db, seat.contract_id);
  assertAuthorizable(contract, input.kind);
  const provider = contract.email_provider!;
  const scopes = scopesFor(provider, input.kind, contract.email_access);
  const user = await deps.db.selectFrom('users').select('email').where('id', '=', actor.userId).executeTakeFirstOrThrow();
  const existing = await deps.db.selectFrom('mailbox_authorizations').select(['scopes', 'address']).where('seat_id', '=', seatId).where('kind', '=', input.kind).executeTakeFirst();

  const state = randomBytes(32).toString('base64url');
  const codeVerifier = randomBytes(32).toString('base64url');
  const id = newId();
  const now = deps.clock.now();
  await deps.db
    .insertInto('oauth_states')
    .values({
      id,
      state_hash: sha256(state),
      contract_id: seat.contract_id,
      seat_id: seatId,
      user_id: actor.userId,
      kind: input.kind,
      provider,
      scopes,
      code_verifier_ciphertext: deps.cipher.seal(codeVerifier, `oauth_state:${id}`),
      redirect_after: safeRedirect(input.redirectAfter),
      created_at: now,
      expires_at: new Date(now.getTime() + STATE_LIFETIME_MS),
      used_at: null,
      binding_kind: binding.kind,
      binding_hash: bindingHash(binding),
      flow_hash: null,
      code_ciphertext: null,
      code_expires_at: null,
      completed_at: null,
    })
    .execute();
  const authorizationUrl = deps.providers.oauth(provider).authorizationUrl({
    scopes,
    state,
    codeChallenge: sha256(codeVerifier),
    redirectUri: callbackUrl(deps, provider),
    loginHint: existing?.address ?? user.email,
    // Gaining a scope the grant lacks (an upgrade to send, R-03) needs the consent screen again.
    forceConsent: !!existing && scopes.some((s) => !existing.scopes.includes(s)),
  });
  return { authorizationUrl };
}

function assertAuthorizable(contract: { status: string; email_provider: Provider | null; email_access: string; calendar_enabled: boolean }, kind: AuthorizationKind): void {
  if (contract.status === 'suspended') throw new AppError('contract_suspended', 'This company is suspended: mailboxes cannot be connected.');
  if (!contract.email_provider) {
    throw new AppError('provider_not_selected', 'Your admin has not chosen an email provider yet (Google Workspace or Microsoft 365). Ask them to select one in the company email settings.');
  }
  if (kind === 'email' && contract.email_access === 'off') {
    throw new AppError('email_disabled', 'Email is turned off for your company. Your admin can turn it on in the company email settings.');
  }
  if (kind === 'calendar' && !contract.calendar_enabled) {
    throw new AppError('calendar_disabled', 'The calendar is turned off for your company. Your admin can turn it on in the company email settings.');
  }
}

/**
 * What the browser is told after the callback. The redirect carries only fixed values (outcome, kind, code,
 * and for a missing permission its fixed name): the UI words them itself and never shows text from the URL.
 */
export type CallbackOutcome =
  | { ok: true; redirectTo: string; seatId: string; kind: AuthorizationKind }
  | { ok: 'pending'; redirectTo: string; kind: AuthorizationKind }
  | { ok: false; code: string; message: string; redirectTo?: string; kind?: AuthorizationKind };

type StateRow = Selectable<OAuthStatesTable>;
type Fail = (code: string, message: string, extra?: Record<string, string>) => Promise<CallbackOutcome & { ok: false }>;

/** The UI path given at the start, with the outcome's parameters added (parsed, never concatenated). */
function backTo(row: StateRow, params: Record<string, string>): string {
  const url = new URL(safeRedirect(row.redirect_after ?? undefined), 'https://product.invalid');
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  return `${url.pathname}${url.search}${url.hash}`;
}

function failer(deps: MailboxDeps, row: StateRow, now: Date): Fail {
  return async (code, message, extra = {}) => {
    const via = row.binding_kind === 'integration' ? 'integration' : 'session';
    await recordAudit(deps.db, { contractId: row.contract_id, actor: { kind: 'user', userId: row.user_id, contractId: row.contract_id, role: 'recruiter', via }, action: 'authorization.failed', targetType: 'seat', targetId: row.seat_id, at: now, details: { kind: row.kind, code } });
    return { ok: false, code, message, kind: row.kind, redirectTo: backTo(row, { authorization: 'failed', kind: row.kind, code, ...extra }) };
  };
}

/**
 * The provider's redirect: finishes the grant or explains in plain words why it did not happen (R-10, R-14).
 * `caller.sessionToken` is the session cookie the browser sent with the redirect, if any.
 */
export async function completeAuthorization(
  deps: MailboxDeps,
  provider: Provider,
  query: { code?: string | undefined; state?: string | undefined; error?: string | undefined; error_description?: string | undefined },
  caller: { sessionToken?: string | undefined } = {},
): Promise<CallbackOutcome> {
  if (!query.state) return { ok: false, code: 'state_invalid', message: 'This sign-in link is incomplete. Start connecting your mailbox again from the product.' };
  const now = deps.clock.now();
  const row = await deps.db.selectFrom('oauth_states').selectAll().where('state_hash', '=', sha256(query.state)).executeTakeFirst();
  if (!row || row.provider !== provider) {
    return { ok: false, code: 'state_invalid', message: 'This sign-in link is not valid. Start connecting your mailbox again from the product.' };
  }
  // Single use: only the first callback with this state may proceed.
  const claimed = await deps.db.updateTable('oauth_states').set({ used_at: now }).where('id', '=', row.id).where('used_at', 'is', null).returning('id').executeTakeFirst();
  if (!claimed) return { ok: false, code: 'state_reused', message: 'This sign-in link was already used. Start connecting your mailbox again from the product.' };
  const fail = failer(deps, row, now);
  if (row.expires_at.getTime() < now.getTime()) return fail('state_expired', 'The sign-in took too long and expired. Please connect your mailbox again.');

  if (query.error) return fail(...describeProviderRedirectError(provider, query.error, query.error_description ?? '', row.scopes));
  if (!query.code) return fail('state_invalid', 'The provider did not return an authorization code. Please try again.');

  if (row.binding_kind === 'integration') {
    // A browser redirect carries no bearer token: the code is parked (sealed, short lived) for the integration
    // that started the flow, which completes it with the flow id that only this browser is shown.
    const flow = randomBytes(32).toString('base64url');
    await deps.db
      .updateTable('oauth_states')
      .set({ flow_hash: sha256(flow), code_ciphertext: deps.cipher.seal(query.code, `oauth_state:${row.id}:code`), code_expires_at: new Date(now.getTime() + PARKED_CODE_LIFETIME_MS) })
      .where('id', '=', row.id)
      .execute();
    return { ok: 'pending', kind: row.kind, redirectTo: backTo(row, { authorization: 'pending', kind: row.kind, flow }) };
  }
  // R-14: a browser flow is finished only in the session that started it: a consent link forwarded to
  // someone else (signed in or not) connects nothing, and the code is never exchanged.
  if (!caller.sessionToken || !sameHash(row.binding_hash, bindingHash({ kind: 'session', secret: caller.sessionToken }))) {
    return fail('session_mismatch', SESSION_MISMATCH);
  }
  return finishGrant(deps, row, query.code, now, fail);
}

/**
 * R-14: the integration that started a flow finishes it after the browser came back with
 * `authorization=pending&flow=…`: the same token, acting as the same user, on the same seat.
 */
export async function completeIntegrationFlow(
  deps: MailboxDeps,
  actor: Actor,
  seatId: string,
  flow: string,
  binding: FlowBinding,
): Promise<CallbackOutcome> {
  await loadSeat(deps.db, actor, seatId);
  const row = await deps.db.selectFrom('oauth_states').selectAll().where('flow_hash', '=', sha256(flow)).where('seat_id', '=', seatId).executeTakeFirst();
  if (!row) throw notFound('authorization flow');
  const sameCaller = binding.kind === 'integration' && row.binding_kind === 'integration' && actor.kind === 'user' && actor.userId === row.user_id && sameHash(row.binding_hash, bindingHash(binding));
  if (!sameCaller) throw forbidden('This sign-in was started by someone else: only the integration that started it, acting as the same person, can complete it.');
  const now = deps.clock.now();
  const claimed = await deps.db
    .updateTable('oauth_states')
    .set({ completed_at: now, code_ciphertext: null })
    .where('id', '=', row.id)
    .where('completed_at', 'is', null)
    .where('code_ciphertext', 'is not', null)
    .returning('id')
    .executeTakeFirst();
  const fail = failer(deps, row, now);
  if (!claimed) return fail('state_reused', 'This sign-in was already completed. Start connecting the mailbox again.');
  if (!row.code_expires_at || row.code_expires_at.getTime() < now.getTime()) return fail('state_expired', 'The sign-in took too long and expired. Please connect the mailbox again.');
  const code = deps.cipher.open(row.code_ciphertext!, `oauth_state:${row.id}:code`);
  return finishGrant(deps, row, code, now, fail);
}

/** Exchanges the code and stores the grant once every rule allows it (R-05, R-06, R-13, R-14). */
async function finishGrant(deps: MailboxDeps, row: StateRow, code: string, now: Date, fail: Fail): Promise<CallbackOutcome> {
  const provider = row.provider;
  const contract = await loadContract(deps.db, row.contract_id);
  try {
    assertAuthorizable(contract, row.kind);
  } catch (error) {
    if (error instanceof AppError) return fail(error.code, error.message);
    throw error;
  }
  if (contract.email_provider !== provider) return fail('provider_changed', 'Your company changed its email provider while you were signing in. Please connect again.');
  const seat = await deps.db.selectFrom('seats').select(['user_id']).where('id', '=', row.seat_id).executeTakeFirst();
  if (seat?.user_id !== row.user_id) return fail('seat_changed', 'This seat changed hands while you were signing in.');

  const oauth = deps.providers.oauth(provider);
  let tokens: TokenSet;
  let identity: { address: string; aliases: string[] };
  try {
    const codeVerifier = deps.cipher.open(row.code_verifier_ciphertext, `oauth_state:${row.id}`);
    tokens = await oauth.exchangeCode({ code, codeVerifier, redirectUri: callbackUrl(deps, provider) });
    identity = await oauth.identity(tokens.accessToken);
  } catch (error) {
    if (error instanceof ProviderError) {
      if (error.kind === 'consent') return fail(...describeProviderRedirectError(provider, error.details.providerCode ?? 'consent_required', error.message, row.scopes));
      return fail('provider_error', `${providerName(provider)} did not complete the sign-in (${error.message}). Please try again in a moment.`);
    }
    throw error;
  }
  // Tokens we will not keep are revoked at the provider at once.
  const refuse: Fail = async (...args) => {
    await oauth.revoke(tokens.refreshToken ?? tokens.accessToken).catch(() => undefined);
    return fail(...args);
  };
  // R-13: a permission the grant needs but did not get (granular consent, or the IT admin withheld it).
  const granted = tokens.scopes.length > 0 ? tokens.scopes : row.scopes;
  const missing = row.scopes.filter((s) => !scopeGranted(provider, s, granted));
  if (missing.length > 0) return refuse(...permissionMissing(provider, missing));
  if (!tokens.refreshToken) return fail('provider_error', `${providerName(provider)} did not grant offline access. Please connect again and accept all permissions.`);

  // R-14: a personal or foreign mailbox only when the admin allowed it (it then shows a warning).
  const external = externalMailboxRefusal(identity.address, contract.company_domains);
  if (external && !contract.allow_external_mailboxes) return refuse(external.code, external.message);

  const stored = await storeGrant(deps, { seatId: row.seat_id, contractId: row.contract_id, userId: row.user_id, via: row.binding_kind === 'integration' ? 'integration' : 'session', kind: row.kind, provider, tokens, scopes: granted, identity, now });
  if (stored === 'already_connected') {
    return refuse('mailbox_already_connected', `${identity.address} is already connected to another seat, so it was not connected here. A mailbox can be connected to one seat only: disconnect it there first, or connect your own mailbox.`);
  }
  return { ok: true, seatId: row.seat_id, kind: row.kind, redirectTo: backTo(row, { authorization: 'connected', kind: row.kind }) };
}

async function storeGrant(
  deps: MailboxDeps,
  g: { seatId: string; contractId: string; userId: string; via: 'session' | 'integration'; kind: AuthorizationKind; provider: Provider; tokens: TokenSet; scopes: string[]; identity: { address: string; aliases: string[] }; now: Date },
): Promise<'stored' | 'already_connected'> {
  return deps.db.transaction().execute(async (trx) => {
    // R-14: a mailbox belongs to one person, so it is connected to one seat only — in any contract, since the
    // same address in two companies would give the second one the first one's mail. The lock makes two
    // concurrent grants of one address take turns.
    const address = g.identity.address.toLowerCase();
    await sql`SELECT pg_advisory_xact_lock(hashtext(${`mailbox:${address}`}))`.execute(trx);
    const elsewhere = await trx
      .selectFrom('mailbox_authorizations')
      .select('id')
      .where(sql<string>`lower(address)`, '=', address)
      .where('seat_id', '<>', g.seatId)
      .where('state', 'in', ['authorized', 'needs_reauthorization'])
      .executeTakeFirst();
    if (elsewhere) return 'already_connected' as const;
    const existing = await trx.selectFrom('mailbox_authorizations').select(['id', 'state', 'first_authorized_at', 'deauthorized_at']).where('seat_id', '=', g.seatId).where('kind', '=', g.kind).forUpdate().executeTakeFirst();
    const id = existing?.id ?? newId();
    const sealed = {
      access_token_ciphertext: deps.cipher.seal(g.tokens.accessToken, `${id}:access`),
      refresh_token_ciphertext: deps.cipher.seal(g.tokens.refreshToken!, `${id}:refresh`),
      access_token_expires_at: g.tokens.expiresAt,
    };
    const values = {
      provider: g.provider,
      state: 'authorized' as const,
      address: g.identity.address,
      aliases: g.identity.aliases,
      scopes: g.scopes,
      ...sealed,
      last_authorized_at: g.now,
      state_reason: null,
      updated_at: g.now,
      refresh_lease_id: null,
      refresh_lease_until: null,
    };
    if (existing) {
      // Re-authorization keeps the history (first authorized, deauthorized at) and the sync cursor (R-23).
      await trx.updateTable('mailbox_authorizations').set(values).where('id', '=', id).execute();
    } else {
      await trx
        .insertInto('mailbox_authorizations')
        .values({ id, seat_id: g.seatId, contract_id: g.contractId, kind: g.kind, ...values, first_authorized_at: g.now, deauthorized_at: null })
        .execute();
    }
    await recordAudit(trx, {
      contractId: g.contractId,
      actor: { kind: 'user', userId: g.userId, contractId: g.contractId, role: 'recruiter', via: g.via },
      action: existing ? 'authorization.reauthorized' : 'authorization.granted',
      targetType: 'seat',
      targetId: g.seatId,
      at: g.now,
      // No mailbox address: the audit log outlives a suspension, which must leave no provider address behind.
      details: { kind: g.kind, provider: g.provider, scopes: g.scopes },
    });
    return 'stored' as const;
  });
}

const providerName = (p: Provider) => (p === 'google' ? 'Google' : 'Microsoft');

function scopeGranted(provider: Provider, scope: string, granted: string[]): boolean {
  const norm = (s: string) => (provider === 'microsoft' ? s.replace(/^https:\/\/graph\.microsoft\.com\//i, '').toLowerCase() : s);
  // Identity scopes are not always echoed back (Google returns openid/email as userinfo.email).
  if ((SCOPES[provider].identity as readonly string[]).includes(scope)) return true;
  return granted.map(norm).includes(norm(scope));
}

/** Plain words for a permission, so the message names what the IT admin must grant (R-13). */
const PERMISSION_NAMES: Record<string, string> = {
  'https://www.googleapis.com/auth/gmail.readonly': 'read email (gmail.readonly)',
  'https://www.googleapis.com/auth/gmail.send': 'send email (gmail.send)',
  'https://www.googleapis.com/auth/calendar.events': 'manage calendar events (calendar.events)',
  'Mail.Read': 'read email (Mail.Read)',
  'Mail.Send': 'send email (Mail.Send)',
  'Calendars.ReadWrite': 'manage calendar events (Calendars.ReadWrite)',
  'OnlineMeetings.ReadWrite': 'create Teams meetings (OnlineMeetings.ReadWrite)',
};
const permissionName = (scope: string) => PERMISSION_NAMES[scope] ?? scope;

/** Fixed names of permissions for the redirect, which the UI words itself (it shows no text from the URL). */
const PERMISSION_KEYS: Record<string, string> = {
  'https://www.googleapis.com/auth/gmail.readonly': 'read_email',
  'https://www.googleapis.com/auth/gmail.send': 'send_email',
  'https://www.googleapis.com/auth/calendar.events': 'calendar_events',
  'Mail.Read': 'read_email',
  'Mail.Send': 'send_email',
  'Calendars.ReadWrite': 'calendar_events',
  'OnlineMeetings.ReadWrite': 'teams_meetings',
};

/** R-13: the failure for permissions withheld, naming them in the message and, by fixed name, in the redirect. */
function permissionMissing(provider: Provider, missing: string[]): [string, string, Record<string, string>] {
  const keys = [...new Set(missing.map((s) => PERMISSION_KEYS[s]).filter((k): k is string => !!k))];
  return ['permission_missing', missingPermissionMessage(provider, missing), { provider, ...(keys.length > 0 ? { missing: keys.join(',') } : {}) }];
}

function missingPermissionMessage(provider: Provider, missing: string[]): string {
  return (
    `${providerName(provider)} did not grant the permission to ${missing.map(permissionName).join(' and ')}. ` +
    `Your company's IT admin must grant this permission to the recruiting app in the ${provider === 'google' ? 'Google Workspace admin console' : 'Microsoft Entra admin center'}; then connect again.`
  );
}

function describeProviderRedirectError(provider: Provider, error: string, description: string, requested: string[]): [string, string, Record<string, string>?] {
  const consentCodes = ['consent_required', 'admin_policy_enforced', 'AADSTS65001', 'AADSTS90094', 'AADSTS90008'];
  if (consentCodes.includes(error) || consentCodes.some((c) => description.includes(c))) {
    const named = requested.filter((s) => description.includes(s) || description.includes(s.split('/').pop() ?? s));
    const which = named.length > 0 ? named : requested.filter((s) => !(SCOPES[provider].identity as readonly string[]).includes(s));
    return permissionMissing(provider, which);
  }
  if (error === 'access_denied') return ['consent_denied', 'You declined the permissions, so your mailbox was not connected. Connect again and accept them to sync your candidate email.'];
  return ['provider_error', `${providerName(provider)} reported an error (${error}). Please try again.`];
}

/** What `GET /seats/{id}/mailbox` shows of one grant (never a token). */
export interface GrantView {
  state: 'not_authorized' | 'authorized' | 'needs_reauthorization' | 'deauthorized';
  provider: Provider | null;
  address: string | null;
  aliases: string[];
  scopes: string[];
  canSend: boolean;
  warnings: Array<{ code: string; rule: string; message: string }>;
  reason: string | null;
  firstAuthorizedAt: Date | null;
  lastAuthorizedAt: Date | null;
  deauthorizedAt: Date | null;
}

export function grantView(row: Selectable<MailboxAuthorizationsTable> | undefined, companyDomains: string[]): GrantView {
  if (!row) {
    return { state: 'not_authorized', provider: null, address: null, aliases: [], scopes: [], canSend: false, warnings: [], reason: null, firstAuthorizedAt: null, lastAuthorizedAt: null, deauthorizedAt: null };
  }
  return {
    state: row.state,
    provider: row.provider,
    address: row.address,
    aliases: row.aliases,
    scopes: row.scopes,
    canSend: row.state === 'authorized' && scopesAllowSending(row.provider, row.scopes),
    warnings: row.address ? mailboxWarnings(row.address, companyDomains) : [],
    reason: row.state_reason,
    firstAuthorizedAt: row.first_authorized_at,
    lastAuthorizedAt: row.last_authorized_at,
    deauthorizedAt: row.deauthorized_at,
  };
}

export async function loadGrants(deps: ServiceContext, actor: Actor, seatId: string) {
  const seat = await loadSeat(deps.db, actor, seatId);
  assertContractVisible(actor, seat.contract_id, 'seat');
  if (actor.kind === 'user' && actor.role !== 'admin' && seat.user_id !== actor.userId) throw forbidden("Only the seat's holder and admins can see its mailbox connection.");
  const contract = await loadContract(deps.db, seat.contract_id);
  const rows = await deps.db.selectFrom('mailbox_authorizations').selectAll().where('seat_id', '=', seatId).execute();
  return { seat, contract, email: rows.find((r) => r.kind === 'email'), calendar: rows.find((r) => r.kind === 'calendar') };
}

/** R-22: the holder (or an admin) disconnects; tokens go to revocation at once, synced data stays (R-72). */
export async function deauthorize(deps: MailboxDeps, actor: Actor, seatId: string, kind: AuthorizationKind): Promise<GrantView> {
  const { seat, contract } = await loadGrants(deps, actor, seatId);
  const now = deps.clock.now();
  await deps.db.transaction().execute(async (trx) => {
    await deauthorizeGrants(trx, { contractId: seat.contract_id, kinds: [kind], seatId, reason: 'user_request', actor, now });
  });
  const row = await deps.db.selectFrom('mailbox_authorizations').selectAll().where('seat_id', '=', seatId).where('kind', '=', kind).executeTakeFirst();
  return grantView(row, contract.company_domains);
}

export { domainOf };
