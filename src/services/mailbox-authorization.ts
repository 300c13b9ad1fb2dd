import { createHash, randomBytes } from 'node:crypto';
import type { Selectable } from 'kysely';
import type { TokenCipher } from '../crypto/token-cipher.ts';
import { domainOf } from '../domain/addresses.ts';
import { mailboxWarnings } from '../domain/mailbox.ts';
import { SCOPES, scopesAllowSending, scopesFor } from '../domain/scopes.ts';
import type { AuthorizationKind, Provider } from '../domain/types.ts';
import { AppError, forbidden } from '../errors.ts';
import { newId } from '../ids.ts';
import { ProviderError } from '../providers/errors.ts';
import type { ProviderRegistry } from '../providers/registry.ts';
import type { TokenSet } from '../providers/types.ts';
import type { MailboxAuthorizationsTable } from '../store/schema.ts';
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
}

const STATE_LIFETIME_MS = 10 * 60 * 1000;
const sha256 = (value: string): string => createHash('sha256').update(value).digest('base64url');
export const callbackUrl = (deps: Pick<MailboxDeps, 'publicUrl'>, provider: Provider): string => `${deps.publicUrl}/oauth/${provider}/callback`;

/** Only a path of our own UI may follow an authorization: no open redirect through the callback. */
function safeRedirect(value: string | undefined): string {
  if (!value || !value.startsWith('/') || value.startsWith('//') || value.includes('\\')) return '/';
  return value;
}

/** the seat holder starts the authorization; preconditions of are checked first. */
export async function startAuthorization(
  deps: MailboxDeps,
  actor: Actor,
  seatId: string,
  input: { kind: AuthorizationKind; redirectAfter?: string | undefined },
): Promise<{ authorizationUrl: string }> {
  const seat = await loadSeat(deps.db, actor, seatId);
  if (actor.kind !== 'user' || seat.user_id !== actor.userId) {
    throw forbidden('Only the user holding this seat can connect its mailbox (act as that user).');
  }
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

export type CallbackOutcome =
  | { ok: true; redirectTo: string; seatId: string; kind: AuthorizationKind }
  | { ok: false; code: string; message: string; redirectTo?: string };

/** The provider's redirect: finishes the grant or explains in plain words why it did not happen. */
export async function completeAuthorization(
  deps: MailboxDeps,
  provider: Provider,
  query: { code?: string | undefined; state?: string | undefined; error?: string | undefined; error_description?: string | undefined },
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
  const back = (params: Record<string, string>) => `${row.redirect_after ?? '/'}${(row.redirect_after ?? '/').includes('?') ? '&' : '?'}${new URLSearchParams(params)}`;
  const fail = async (code: string, message: string): Promise<CallbackOutcome> => {
    await recordAudit(deps.db, { contractId: row.contract_id, actor: { kind: 'user', userId: row.user_id, contractId: row.contract_id, role: 'recruiter', via: 'session' }, action: 'authorization.failed', targetType: 'seat', targetId: row.seat_id, at: now, details: { kind: row.kind, code } });
    return { ok: false, code, message, redirectTo: back({ authorization: 'failed', kind: row.kind, code, message }) };
  };
  if (row.expires_at.getTime() < now.getTime()) return fail('state_expired', 'The sign-in took too long and expired. Please connect your mailbox again.');

  if (query.error) return fail(...describeProviderRedirectError(provider, query.error, query.error_description ?? '', row.scopes));
  if (!query.code) return fail('state_invalid', 'The provider did not return an authorization code. Please try again.');

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
    tokens = await oauth.exchangeCode({ code: query.code, codeVerifier, redirectUri: callbackUrl(deps, provider) });
    identity = await oauth.identity(tokens.accessToken);
  } catch (error) {
    if (error instanceof ProviderError) {
      if (error.kind === 'consent') return fail(...describeProviderRedirectError(provider, error.details.providerCode ?? 'consent_required', error.message, row.scopes));
      return fail('provider_error', `${providerName(provider)} did not complete the sign-in (${error.message}). Please try again in a moment.`);
    }
    throw error;
  }
  // a permission the grant needs but did not get (granular consent, or the IT admin withheld it).
  const granted = tokens.scopes.length > 0 ? tokens.scopes : row.scopes;
  const missing = row.scopes.filter((s) => !scopeGranted(provider, s, granted));
  if (missing.length > 0) {
    await oauth.revoke(tokens.refreshToken ?? tokens.accessToken).catch(() => undefined);
    return fail('permission_missing', missingPermissionMessage(provider, missing));
  }
  if (!tokens.refreshToken) return fail('provider_error', `${providerName(provider)} did not grant offline access. Please connect again and accept all permissions.`);

  await storeGrant(deps, { seatId: row.seat_id, contractId: row.contract_id, userId: row.user_id, kind: row.kind, provider, tokens, scopes: granted, identity, now });
  return { ok: true, seatId: row.seat_id, kind: row.kind, redirectTo: back({ authorization: 'connected', kind: row.kind }) };
}

async function storeGrant(
  deps: MailboxDeps,
  g: { seatId: string; contractId: string; userId: string; kind: AuthorizationKind; provider: Provider; tokens: TokenSet; scopes: string[]; identity: { address: string; aliases: string[] }; now: Date },
): Promise<void> {
  await deps.db.transaction().execute(async (trx) => {
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
      // Re-authorization keeps the history (first authorized, deauthorized at) and the sync cursor.
      await trx.updateTable('mailbox_authorizations').set(values).where('id', '=', id).execute();
    } else {
      await trx
        .insertInto('mailbox_authorizations')
        .values({ id, seat_id: g.seatId, contract_id: g.contractId, kind: g.kind, ...values, first_authorized_at: g.now, deauthorized_at: null })
        .execute();
    }
    await recordAudit(trx, {
      contractId: g.contractId,
      actor: { kind: 'user', userId: g.userId, contractId: g.contractId, role: 'recruiter', via: 'session' },
      action: existing ? 'authorization.reauthorized' : 'authorization.granted',
      targetType: 'seat',
      targetId: g.seatId,
      at: g.now,
      details: { kind: g.kind, provider: g.provider, address: g.identity.address, scopes: g.scopes },
    });
  });
}

const providerName = (p: Provider) => (p === 'google' ? 'Google' : 'Microsoft');

function scopeGranted(provider: Provider, scope: string, granted: string[]): boolean {
  const norm = (s: string) => (provider === 'microsoft' ? s.replace(/^https:\/\/graph\.microsoft\.com\//i, '').toLowerCase() : s);
  // Identity scopes are not always echoed back (Google returns openid/email as userinfo.email).
  if ((SCOPES[provider].identity as readonly string[]).includes(scope)) return true;
  return granted.map(norm).includes(norm(scope));
}

/** Plain words for a permission, so the message names what the IT admin must grant. */
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

function missingPermissionMessage(provider: Provider, missing: string[]): string {
  return (
    `${providerName(provider)} did not grant the permission to ${missing.map(permissionName).join(' and ')}. ` +
    `Your company's IT admin must grant this permission to the recruiting app in the ${provider === 'google' ? 'Google Workspace admin console' : 'Microsoft Entra admin center'}; then connect again.`
  );
}

function describeProviderRedirectError(provider: Provider, error: string, description: string, requested: string[]): [string, string] {
  const consentCodes = ['consent_required', 'admin_policy_enforced', 'AADSTS65001', 'AADSTS90094', 'AADSTS90008'];
  if (consentCodes.includes(error) || consentCodes.some((c) => description.includes(c))) {
    const named = requested.filter((s) => description.includes(s) || description.includes(s.split('/').pop() ?? s));
    const which = named.length > 0 ? named : requested.filter((s) => !(SCOPES[provider].identity as readonly string[]).includes(s));
    return ['permission_missing', missingPermissionMessage(provider, which)];
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

/** the holder (or an admin) disconnects; tokens go to revocation at once, synced data stays. */
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
