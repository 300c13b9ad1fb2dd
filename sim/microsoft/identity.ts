import { createHash, randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { aadErrorBody, type AadError } from './errors.ts';
import { OIDC_SCOPES, domainOf, normalizeScope, type MsContext } from './context.ts';
import { b64url, newGuid, opaque, tenantIdFor, userObjectIdFor } from './ids.ts';
import type { AccessTokenRecord, AuthCode } from './state.ts';
import type { MsMailbox } from './port.ts';
import { simulatorPage } from '../core/consent-page.ts';

/**
 * Microsoft identity platform v2 below `/{tenant}/oauth2/v2.0/`: the authorization endpoint (sign-in and
 * consent page, or `auto_consent=1&login_hint=` for tests), PKCE, and the token endpoint with the
 * authorization_code and refresh_token grants. Refresh tokens roll (a new one with every redemption; the
 * previous one stays valid until it expires, as at Microsoft) and expire after inactivity.
 */

const GRAPH_APP_ID = '00000003-0000-0000-c000-000000000000';
type Params = Record<string, string | undefined>;

export function registerIdentityRoutes(app: FastifyInstance, ctx: MsContext): void {
  app.get('/:tenant/oauth2/v2.0/authorize', async (req, reply) => authorize(ctx, req, reply, req.query as Params, 'GET'));
  app.post('/:tenant/oauth2/v2.0/authorize', async (req, reply) => authorize(ctx, req, reply, (req.body ?? {}) as Params, 'POST'));
  app.post('/:tenant/oauth2/v2.0/token', async (req, reply) => token(ctx, req, reply));
  app.get('/:tenant/v2.0/.well-known/openid-configuration', async (req) => {
    const { tenant } = req.params as { tenant: string };
    const base = `${req.protocol}://${req.host}/microsoft/${tenant}`;
    return {
      authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
      token_endpoint: `${base}/oauth2/v2.0/token`,
      issuer: `https://login.microsoftonline.com/{tenantid}/v2.0`,
      response_types_supported: ['code'],
      code_challenge_methods_supported: ['plain', 'S256'],
      scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
      token_endpoint_auth_methods_supported: ['client_secret_post', 'client_secret_basic'],
    };
  });
}

// ---------------------------------------------------------------- authorization endpoint

function errorPage(reply: FastifyReply, status: number, aadsts: number, message: string): FastifyReply {
  return reply
    .code(status)
    .type('text/html; charset=utf-8')
    .send(page('Sign in', `<h1>Sorry, but we’re having trouble signing you in.</h1><p id="error">AADSTS${aadsts}: ${esc(message)}</p>`));
}

function redirectWith(reply: FastifyReply, redirectUri: string, mode: string, params: Record<string, string>): FastifyReply {
  if (mode === 'form_post') {
    const inputs = Object.entries(params).map(([k, v]) => `<input type="hidden" name="${esc(k)}" value="${esc(v)}">`).join('');
    return reply
      .type('text/html; charset=utf-8')
      .send(`<html><body onload="document.forms[0].submit()"><form method="POST" action="${esc(redirectUri)}">${inputs}<noscript><button>Continue</button></noscript></form></body></html>`);
  }
  const url = new URL(redirectUri);
  if (mode === 'fragment') url.hash = new URLSearchParams(params).toString();
  else for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  return reply.redirect(url.toString(), 302);
}

function tenantMatches(tenant: string, mailbox: MsMailbox): boolean {
  const t = tenant.toLowerCase();
  if (t === 'common' || t === 'organizations') return true;
  if (t === 'consumers') return false;
  return t === mailbox.domain.toLowerCase() || t === tenantIdFor(mailbox.domain);
}

/** Requested Graph scopes the tenant's IT admin has not granted (R-13 needs them named). */
export function missingTenantScopes(ctx: MsContext, domain: string, scopes: readonly string[]): string[] {
  const granted = ctx.core.tenantGrantedScopes(domain);
  if (granted === null) return [];
  const g = new Set(granted.map((s) => normalizeScope(s).toLowerCase()));
  return scopes.filter((s) => !OIDC_SCOPES.has(s.toLowerCase()) && !g.has(s.toLowerCase()));
}

async function authorize(ctx: MsContext, req: FastifyRequest, reply: FastifyReply, p: Params, method: 'GET' | 'POST') {
  const { tenant } = req.params as { tenant: string };
  const clientId = p.client_id ?? '';
  const redirectUri = p.redirect_uri ?? '';
  if (!clientId) return errorPage(reply, 400, 900144, "The request body must contain the following parameter: 'client_id'.");
  if (!ctx.core.client(clientId)) {
    return errorPage(reply, 400, 700016, `Application with identifier '${clientId}' was not found in the directory '${tenant}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant.`);
  }
  if (!redirectUri || !ctx.core.redirectAllowed(clientId, redirectUri)) {
    return errorPage(reply, 400, 50011, `The redirect URI '${redirectUri}' specified in the request does not match the redirect URIs configured for the application '${clientId}'.`);
  }
  const mode = p.response_mode ?? 'query';
  const state = p.state;
  const back = (params: Record<string, string>) => redirectWith(reply, redirectUri, mode, { ...params, ...(state !== undefined ? { state } : {}) });
  const fail = (error: string, aadsts: number, description: string) =>
    back({ error, error_description: `AADSTS${aadsts}: ${description}\r\nTrace ID: ${newGuid()}\r\nCorrelation ID: ${newGuid()}\r\nTimestamp: ${new Date(ctx.core.now()).toISOString()}` });

  if (p.response_type !== 'code') return fail('unsupported_response_type', 70005, "The provided value for the input parameter 'response_type' is not allowed for this request. Expected value: 'code'.");
  const scopes = (p.scope ?? '').split(/\s+/).filter(Boolean).map(normalizeScope);
  if (scopes.length === 0) return fail('invalid_request', 900144, "The request body must contain the following parameter: 'scope'.");
  const challengeMethod = p.code_challenge ? (p.code_challenge_method ?? 'plain') : null;
  if (challengeMethod && challengeMethod !== 'S256' && challengeMethod !== 'plain') {
    return fail('invalid_request', 501491, `Invalid code_challenge_method '${challengeMethod}'.`);
  }

  const auto = p.auto_consent === '1' || p.auto_consent === 'true';
  if (method === 'GET' && !auto) {
    const hinted = p.login_hint ? ctx.core.mailbox(p.login_hint.trim().toLowerCase()) : undefined;
    return reply.type('text/html; charset=utf-8').send(signInPage(tenant, p, scopes, null, !!hinted?.password));
  }

  if (method === 'POST' && p.decision === 'cancel') {
    return fail('access_denied', 65004, 'User declined to consent to access the app.');
  }
  const login = (p.login ?? p.login_hint ?? '').trim().toLowerCase();
  const mailbox = login ? ctx.core.mailbox(login) : undefined;
  if (!mailbox || !tenantMatches(tenant, mailbox)) {
    const msg = `User account '${login}' from identity provider 'https://sts.windows.net/${tenant}/' does not exist in tenant '${tenant}' and cannot access the application '${clientId}' in that tenant.`;
    if (auto) return fail('invalid_request', 50020, msg);
    return reply.code(200).type('text/html; charset=utf-8').send(signInPage(tenant, p, scopes, `AADSTS50034: The user account ${login || '(empty)'} does not exist in the ${tenant} directory.`));
  }
  if (!auto && mailbox.password !== null && mailbox.password !== '' && p.password !== mailbox.password) {
    return reply.code(200).type('text/html; charset=utf-8').send(signInPage(tenant, p, scopes, 'AADSTS50126: Error validating credentials due to invalid username or password.', true));
  }
  const missing = missingTenantScopes(ctx, mailbox.domain, scopes);
  if (missing.length > 0) {
    return fail('consent_required', 65001, consentMessage(clientId, missing));
  }
  const code: AuthCode = {
    code: `1.A${opaque(96)}`,
    clientId,
    redirectUri,
    scopes,
    address: mailbox.address,
    codeChallenge: p.code_challenge ?? null,
    codeChallengeMethod: challengeMethod,
    nonce: p.nonce ?? null,
    issuedAt: ctx.core.now(),
    redeemed: false,
  };
  ctx.ms.codes.set(code.code, code);
  return back({ code: code.code, session_state: newGuid() });
}

export function consentMessage(clientId: string, missing: string[]): string {
  return (
    `The user or administrator has not consented to use the application with ID '${clientId}' named '${clientId}'. ` +
    `Send an interactive authorization request for this user and resource. ` +
    `The tenant administrator has not granted the scope${missing.length > 1 ? 's' : ''} ${missing.map((m) => `'${m}'`).join(', ')}.`
  );
}

/** The sign-in page. It asks for a password only when the mailbox has one set (the demo's mailboxes have none). */
function signInPage(tenant: string, p: Params, scopes: string[], error: string | null, askPassword = false): string {
  const keep = ['client_id', 'redirect_uri', 'response_type', 'response_mode', 'scope', 'state', 'code_challenge', 'code_challenge_method', 'nonce', 'prompt'];
  const hidden = keep.filter((k) => p[k] !== undefined).map((k) => `<input type="hidden" name="${k}" value="${esc(p[k]!)}">`).join('\n');
  const list = scopes.map((s) => `<li>${esc(s)}</li>`).join('');
  return page(
    'Connect your mailbox · simulated Microsoft',
    `<h1>Connect your Microsoft 365 mailbox</h1>
<p class="muted">Tenant <code>${esc(tenant)}</code></p>
${error ? `<p id="error" role="alert">${esc(error)}</p>` : ''}
<form method="POST" action="authorize">
${hidden}
<label>Email <input name="login" type="email" value="${esc(p.login ?? p.login_hint ?? '')}" autocomplete="username"></label>
${askPassword ? '<label>Password <input name="password" type="password" autocomplete="current-password"></label>' : ''}
<h2>Permissions requested</h2>
<p><strong>${esc(p.client_id ?? '')}</strong> would like to:</p>
<ul id="scopes">${list}</ul>
<div class="actions"><button name="decision" value="accept" type="submit">Accept</button>
<button name="decision" value="cancel" type="submit">Cancel</button></div>
</form>`,
  );
}

function page(title: string, body: string): string {
  return simulatorPage(title, 'Microsoft', body);
}

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

// ---------------------------------------------------------------- token endpoint

function aad(reply: FastifyReply, ctx: MsContext, e: AadError): FastifyReply {
  return reply.code(e.status).header('cache-control', 'no-store, no-cache').type('application/json; charset=utf-8').send(aadErrorBody(e, ctx.core.now()));
}

const invalidGrant = (aadsts: number, description: string, suberror?: string): AadError => ({ status: 400, error: 'invalid_grant', aadsts, description, ...(suberror ? { suberror } : {}) });

function clientCredentials(req: FastifyRequest, p: Params): { id: string; secret: string | undefined } {
  const auth = req.headers.authorization;
  if (auth?.toLowerCase().startsWith('basic ')) {
    const [id, secret] = Buffer.from(auth.slice(6), 'base64').toString('utf8').split(':');
    return { id: decodeURIComponent(id ?? ''), secret: secret !== undefined ? decodeURIComponent(secret) : undefined };
  }
  return { id: p.client_id ?? '', secret: p.client_secret };
}

async function token(ctx: MsContext, req: FastifyRequest, reply: FastifyReply) {
  const p = (req.body ?? {}) as Params;
  if (typeof req.body !== 'object') {
    return aad(reply, ctx, { status: 400, error: 'invalid_request', aadsts: 900144, description: "The request body must contain the following parameter: 'grant_type'." });
  }
  const now = ctx.core.now();
  if (ctx.core.takeFault('POST', req.url, ['invalid_grant'])) {
    return aad(reply, ctx, invalidGrant(50173, `The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might have changed or reset their password. The grant was issued on '${now.toISOString()}'.`));
  }
  const { id: clientId, secret } = clientCredentials(req, p);
  if (!clientId) return aad(reply, ctx, { status: 400, error: 'invalid_request', aadsts: 900144, description: "The request body must contain the following parameter: 'client_id'." });
  const client = ctx.core.client(clientId);
  if (!client) return aad(reply, ctx, { status: 400, error: 'unauthorized_client', aadsts: 700016, description: `Application with identifier '${clientId}' was not found in the directory.` });
  if (secret === undefined) return aad(reply, ctx, { status: 401, error: 'invalid_client', aadsts: 7000218, description: "The request body must contain the following parameter: 'client_assertion' or 'client_secret'." });
  if (secret !== client.secret) return aad(reply, ctx, { status: 401, error: 'invalid_client', aadsts: 7000215, description: 'Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.' });

  if (p.grant_type === 'authorization_code') {
    const code = p.code ? ctx.ms.codes.get(p.code) : undefined;
    if (!p.code) return aad(reply, ctx, { status: 400, error: 'invalid_request', aadsts: 900144, description: "The request body must contain the following parameter: 'code'." });
    if (!code || code.clientId !== clientId) return aad(reply, ctx, invalidGrant(70000, "The provided value for the 'code' parameter is not valid."));
    if (code.redeemed) return aad(reply, ctx, invalidGrant(54005, 'OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.'));
    if (now.getTime() - code.issuedAt.getTime() > ctx.ms.config.authorizationCodeLifetimeSeconds * 1000) {
      return aad(reply, ctx, invalidGrant(70008, 'The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource.'));
    }
    if (p.redirect_uri !== code.redirectUri) {
      return aad(reply, ctx, invalidGrant(500112, `The reply address '${p.redirect_uri ?? ''}' does not match the reply address '${code.redirectUri}' provided when requesting Authorization code.`));
    }
    if (code.codeChallenge !== null) {
      const verifier = p.code_verifier ?? '';
      const computed = code.codeChallengeMethod === 'S256' ? b64url(createHash('sha256').update(verifier).digest()).replace(/=+$/, '') : verifier;
      if (!verifier || computed !== code.codeChallenge) {
        return aad(reply, ctx, invalidGrant(501481, 'The Code_Verifier does not match the code_challenge supplied in the authorization request.'));
      }
    }
    code.redeemed = true;
    const mailbox = ctx.core.mailbox(code.address);
    const missing = mailbox ? missingTenantScopes(ctx, mailbox.domain, code.scopes) : [];
    if (missing.length > 0) return aad(reply, ctx, invalidGrant(65001, consentMessage(clientId, missing), 'consent_required'));
    return reply.header('cache-control', 'no-store, no-cache').send(issue(ctx, clientId, code.address, code.scopes, code.nonce));
  }

  if (p.grant_type === 'refresh_token') {
    if (!p.refresh_token) return aad(reply, ctx, { status: 400, error: 'invalid_request', aadsts: 900144, description: "The request body must contain the following parameter: 'refresh_token'." });
    const rt = ctx.ms.refreshTokens.get(p.refresh_token);
    if (!rt) return aad(reply, ctx, invalidGrant(9002313, 'Invalid request. Request is malformed or invalid.'));
    if (rt.clientId !== clientId) return aad(reply, ctx, invalidGrant(70000, 'Provided grant is invalid or malformed.'));
    if (rt.revoked) {
      return aad(reply, ctx, invalidGrant(50173, `The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might have changed or reset their password. The grant was issued on '${rt.issuedAt.toISOString()}'.`));
    }
    const idleSeconds = (now.getTime() - rt.issuedAt.getTime()) / 1000;
    if (idleSeconds > ctx.ms.config.refreshTokenInactivitySeconds) {
      return aad(reply, ctx, invalidGrant(700082, `The refresh token has expired due to inactivity. The token was issued on ${rt.issuedAt.toISOString()} and was inactive for ${formatSpan(ctx.ms.config.refreshTokenInactivitySeconds)}.`));
    }
    const mailbox = ctx.core.mailbox(rt.address);
    if (!mailbox) return aad(reply, ctx, invalidGrant(50034, `The user account ${rt.address} does not exist in the directory.`));
    const requested = p.scope ? p.scope.split(/\s+/).filter(Boolean).map(normalizeScope) : rt.scopes;
    const tenantMissing = missingTenantScopes(ctx, mailbox.domain, requested);
    const notConsented = requested.filter((s) => !OIDC_SCOPES.has(s.toLowerCase()) && !rt.scopes.some((r) => r.toLowerCase() === s.toLowerCase()));
    const missing = [...new Set([...tenantMissing, ...notConsented])];
    if (missing.length > 0) return aad(reply, ctx, invalidGrant(65001, consentMessage(clientId, missing), 'consent_required'));
    // The grant keeps its consented scopes; a narrower request only narrows the access token.
    const keepOffline = rt.scopes.some((s) => s.toLowerCase() === 'offline_access');
    const scopes = keepOffline && !requested.some((s) => s.toLowerCase() === 'offline_access') ? [...requested, 'offline_access'] : requested;
    return reply.header('cache-control', 'no-store, no-cache').send(issue(ctx, clientId, rt.address, scopes, null, rt.scopes));
  }

  if (!p.grant_type) return aad(reply, ctx, { status: 400, error: 'invalid_request', aadsts: 900144, description: "The request body must contain the following parameter: 'grant_type'." });
  return aad(reply, ctx, { status: 400, error: 'unsupported_grant_type', aadsts: 70003, description: `The app requested an unsupported grant type '${p.grant_type}'.` });
}

function formatSpan(seconds: number): string {
  const d = Math.floor(seconds / 86400);
  const rest = seconds - d * 86400;
  const hh = String(Math.floor(rest / 3600)).padStart(2, '0');
  const mm = String(Math.floor((rest % 3600) / 60)).padStart(2, '0');
  const ss = String(Math.floor(rest % 60)).padStart(2, '0');
  return `${d}.${hh}:${mm}:${ss}`;
}

function jwtShaped(payload: Record<string, unknown>): string {
  const header = { typ: 'JWT', nonce: opaque(24), alg: 'RS256', x5t: opaque(20), kid: 'sim' };
  const enc = (o: unknown) => b64url(Buffer.from(JSON.stringify(o))).replace(/=+$/, '');
  // Graph access tokens are not for clients to read; the signature here is random and the token is looked up.
  return `${enc(header)}.${enc(payload)}.${b64url(randomBytes(64)).replace(/=+$/, '')}`;
}

function issue(ctx: MsContext, clientId: string, address: string, scopes: string[], nonce: string | null, grantScopes?: string[]) {
  const now = ctx.core.now();
  const mailbox = ctx.core.mailbox(address);
  const tid = tenantIdFor(mailbox?.domain ?? domainOf(address));
  const oid = userObjectIdFor(address);
  const iat = Math.floor(now.getTime() / 1000);
  const lifetime = ctx.ms.config.accessTokenLifetimeSeconds;
  const resourceScopes = scopes.filter((s) => !OIDC_SCOPES.has(s.toLowerCase()));
  const accessToken = jwtShaped({
    aud: GRAPH_APP_ID, iss: `https://sts.windows.net/${tid}/`, iat, nbf: iat, exp: iat + lifetime,
    appid: clientId, scp: resourceScopes.join(' '), tid, oid, upn: address, unique_name: address, ver: '1.0',
  });
  const record: AccessTokenRecord = { token: accessToken, clientId, address, scopes: resourceScopes, expiresAt: new Date(now.getTime() + lifetime * 1000), revoked: false };
  ctx.ms.accessTokens.set(accessToken, record);
  const body: Record<string, unknown> = {
    token_type: 'Bearer',
    scope: [...resourceScopes, ...scopes.filter((s) => ['openid', 'profile', 'email'].includes(s.toLowerCase()))].join(' '),
    expires_in: lifetime,
    ext_expires_in: lifetime,
    access_token: accessToken,
  };
  if (scopes.some((s) => s.toLowerCase() === 'offline_access')) {
    const rt = `1.A${opaque(160)}`;
    ctx.ms.refreshTokens.set(rt, { token: rt, clientId, address, scopes: grantScopes ?? scopes, issuedAt: now, revoked: false });
    body.refresh_token = rt;
  }
  if (scopes.some((s) => s.toLowerCase() === 'openid')) {
    body.id_token = jwtShaped({
      aud: clientId, iss: `https://login.microsoftonline.com/${tid}/v2.0`, iat, nbf: iat, exp: iat + 3600,
      name: mailbox?.displayName ?? address, oid, preferred_username: address, email: address, sub: oid, tid, ver: '2.0',
      ...(nonce ? { nonce } : {}),
    });
  }
  return body;
}

/** Graph's `revokeSignInSessions` and the control API: every refresh and access token of the user dies. */
export function revokeUserSessions(ctx: MsContext, address: string): number {
  const a = address.toLowerCase();
  let n = 0;
  for (const rt of ctx.ms.refreshTokens.values()) if (rt.address.toLowerCase() === a && !rt.revoked) { rt.revoked = true; n++; }
  for (const at of ctx.ms.accessTokens.values()) if (at.address.toLowerCase() === a) at.revoked = true;
  return n;
}
