import { createHash, createPublicKey, KeyObject, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { SignJWT } from 'jose';
import { escapeHtml, simulatorPage } from '../core/consent-page.ts';
import type { Mailbox } from '../core/mail.ts';
import type { SimState } from '../core/state.ts';
import { invalidCredentials, loginRequired } from './errors.ts';
import { selfSignedCertificatePem } from './x509.ts';
import { IDENTITY_SCOPES, KNOWN_SCOPES, normalizeScope } from './scopes.ts';
import {
  fingerprint,
  grantKey,
  newAccessToken,
  newCode,
  newRefreshToken,
  subjectOf,
  type AccessToken,
  type GoogleState,
  type RefreshToken,
} from './state.ts';

/**
 * Google OAuth 2.0 for web server applications
 * (https://developers.google.com/identity/protocols/oauth2/web-server): the consent page, the token
 * endpoint (authorization_code with PKCE, refresh_token), revocation, userinfo/tokeninfo and the JWKS.
 */

export interface GoogleCtx {
  state: SimState;
  g: GoogleState;
}

const esc = escapeHtml;

function page(title: string, body: string): string {
  return simulatorPage(title, 'Google', body);
}

function errorPage(reply: FastifyReply, status: number, code: string, message: string, extra = '') {
  return reply
    .code(status)
    .type('text/html; charset=utf-8')
    .send(page(`Error ${status}: ${code}`, `<h1>Access blocked: Authorization Error</h1><p class="err">${esc(message)}</p><p><b>Error ${status}: ${esc(code)}</b></p>${extra}`));
}

type AuthParams = Record<string, string>;

function redirectWith(redirectUri: string, params: Record<string, string | undefined>): string {
  const u = new URL(redirectUri);
  for (const [k, v] of Object.entries(params)) if (v !== undefined) u.searchParams.set(k, v);
  return u.toString();
}

/** The request's scopes, validated and normalized; returns an error message for the page if any is unknown. */
function requestedScopes(raw: string | undefined): { scopes: string[] } | { error: string; code: string } {
  if (!raw || !raw.trim()) return { code: 'invalid_request', error: 'Missing required parameter: scope' };
  const scopes = [...new Set(raw.split(/[\s+]+/).filter(Boolean).map(normalizeScope))];
  const unknown = scopes.filter((s) => !KNOWN_SCOPES.has(s));
  if (unknown.length) return { code: 'invalid_scope', error: `Some requested scopes were invalid. {invalid=[${unknown.join(', ')}]}` };
  return { scopes };
}

/** Scopes the domain's IT admin has not allowed (Workspace API access controls). */
function blockedScopes(state: SimState, mailbox: Mailbox, scopes: string[]): string[] {
  const granted = state.tenants.grantedScopes(mailbox.domain);
  if (granted === null) return [];
  const allowed = new Set(granted.map(normalizeScope));
  return scopes.filter((s) => !IDENTITY_SCOPES.has(s) && !allowed.has(s));
}

interface Validated {
  clientId: string;
  redirectUri: string;
  scopes: string[];
  params: AuthParams;
}

function validateAuthRequest(ctx: GoogleCtx, params: AuthParams, reply: FastifyReply): Validated | undefined {
  const clientId = params.client_id;
  if (!clientId || !ctx.state.clients.get('google', clientId)) {
    void errorPage(reply, 401, 'invalid_client', 'The OAuth client was not found.');
    return undefined;
  }
  const redirectUri = params.redirect_uri;
  if (!redirectUri || !ctx.state.clients.redirectAllowed('google', clientId, redirectUri)) {
    void errorPage(
      reply,
      400,
      'redirect_uri_mismatch',
      "You can't sign in to this app because it doesn't comply with Google's OAuth 2.0 policy.",
      `<p>If you're the app developer, register the redirect URI in the Google Cloud Console.<br>Request details: redirect_uri=${esc(redirectUri ?? '')}</p>`,
    );
    return undefined;
  }
  if (!params.response_type) {
    void errorPage(reply, 400, 'invalid_request', 'Required parameter is missing: response_type');
    return undefined;
  }
  if (params.response_type !== 'code') {
    void errorPage(reply, 400, 'unsupported_response_type', `Invalid response_type: ${params.response_type}`);
    return undefined;
  }
  const method = params.code_challenge_method;
  if (params.code_challenge && method && method !== 'S256' && method !== 'plain') {
    void errorPage(reply, 400, 'invalid_request', `Invalid code_challenge_method: ${method}`);
    return undefined;
  }
  const s = requestedScopes(params.scope);
  if ('error' in s) {
    void errorPage(reply, 400, s.code, s.error);
    return undefined;
  }
  return { clientId, redirectUri, scopes: s.scopes, params };
}

const SCOPE_LABELS: Record<string, string> = {
  openid: 'Associate you with your personal info on Google',
  'https://www.googleapis.com/auth/userinfo.email': 'See your primary Google Account email address',
  'https://www.googleapis.com/auth/userinfo.profile': 'See your personal info, including any personal info you\'ve made publicly available',
  'https://www.googleapis.com/auth/gmail.readonly': 'View your email messages and settings',
  'https://www.googleapis.com/auth/gmail.send': 'Send email on your behalf',
  'https://www.googleapis.com/auth/gmail.metadata': 'View your email message metadata such as labels and headers, but not the email body',
  'https://www.googleapis.com/auth/gmail.modify': 'Read, compose, and send emails from your Gmail account',
  'https://mail.google.com/': 'Read, compose, send, and permanently delete all your email from Gmail',
  'https://www.googleapis.com/auth/calendar.events': 'View and edit events on all your calendars',
  'https://www.googleapis.com/auth/calendar': 'See, edit, share, and permanently delete all the calendars you can access using Google Calendar',
};

/**
 * The consent page. It asks for a password only when the mailbox has one set (the demo's mailboxes have none):
 * known from login_hint, or learnt when the address submitted turns out to need one.
 */
function consentPage(v: Validated, message?: string, email?: string, askPassword = false): string {
  const hidden = Object.entries(v.params)
    .filter(([k]) => k !== 'email' && k !== 'password' && k !== 'decision')
    .map(([k, val]) => `<input type="hidden" name="${esc(k)}" value="${esc(val)}">`)
    .join('');
  const scopes = v.scopes.map((s) => `<li title="${esc(s)}">${esc(SCOPE_LABELS[s] ?? s)}</li>`).join('');
  return page(
    'Connect your mailbox · simulated Google',
    `<h1>Connect your Google mailbox</h1><p class="muted">to continue to <b>${esc(v.clientId)}</b></p>
${message ? `<p class="err" role="alert">${esc(message)}</p>` : ''}
<form method="post" action="auth/consent">${hidden}
<label>Email<input type="email" name="email" value="${esc(email ?? v.params.login_hint ?? '')}" required></label>
${askPassword ? '<label>Password<input type="password" name="password"></label>' : ''}
<h2>${esc(v.clientId)} wants to:</h2><ul>${scopes}</ul>
<div class="actions"><button type="submit" name="decision" value="allow">Allow</button><button type="submit" name="decision" value="deny">Cancel</button></div>
</form>`,
  );
}

function issueCode(ctx: GoogleCtx, v: Validated, mailbox: Mailbox): string {
  const key = grantKey(v.clientId, mailbox.address);
  let scopes = v.scopes;
  if (v.params.include_granted_scopes === 'true') scopes = [...new Set([...(ctx.g.grants.get(key) ?? []), ...scopes])];
  const code = newCode();
  ctx.g.codes.set(code, {
    code,
    clientId: v.clientId,
    redirectUri: v.redirectUri,
    scopes,
    address: mailbox.address,
    codeChallenge: v.params.code_challenge ?? null,
    codeChallengeMethod: v.params.code_challenge ? (v.params.code_challenge_method === 'S256' ? 'S256' : 'plain') : null,
    offline: v.params.access_type === 'offline',
    forceConsent: (v.params.prompt ?? '').split(/\s+/).includes('consent'),
    nonce: v.params.nonce ?? null,
    issuedAt: ctx.state.clock.now(),
    used: false,
  });
  return redirectWith(v.redirectUri, { state: v.params.state, code, scope: scopes.join(' '), authuser: '0', hd: mailbox.domain, prompt: 'consent' });
}

/** Approves (or refuses) the request for a signed-in mailbox and redirects back to the app. */
function decide(ctx: GoogleCtx, v: Validated, mailbox: Mailbox, allow: boolean, reply: FastifyReply) {
  if (!allow) return reply.redirect(redirectWith(v.redirectUri, { error: 'access_denied', state: v.params.state }), 302);
  const blocked = blockedScopes(ctx.state, mailbox, v.scopes);
  if (blocked.length) {
    // Google shows "Error 400: admin_policy_enforced" to the user; the page links back to the app with the
    // same error so that the app can tell the user which permission the IT admin must grant (R-13).
    const back = redirectWith(v.redirectUri, {
      error: 'admin_policy_enforced',
      error_description: `The administrator of ${mailbox.domain} has not granted access to: ${blocked.join(' ')}`,
      state: v.params.state,
    });
    if (v.params.auto_consent === '1') return reply.redirect(back, 302);
    return errorPage(
      reply,
      400,
      'admin_policy_enforced',
      'Access to your account data is restricted by policies within your organization. Please contact the administrator for more information.',
      `<p>Blocked: ${blocked.map(esc).join(', ')}</p><p><a href="${esc(back)}">Back to the app</a></p>`,
    );
  }
  return reply.redirect(issueCode(ctx, v, mailbox), 302);
}

function flatten(obj: unknown): AuthParams {
  const out: AuthParams = {};
  if (obj && typeof obj === 'object') for (const [k, v] of Object.entries(obj)) out[k] = Array.isArray(v) ? String(v[0] ?? '') : String(v ?? '');
  return out;
}

function oauthError(reply: FastifyReply, status: number, error: string, description: string) {
  return reply.code(status).header('cache-control', 'no-store').send({ error, error_description: description });
}

function clientAuth(ctx: GoogleCtx, req: FastifyRequest, body: AuthParams): { clientId: string } | { status: number; error: string; description: string } {
  let clientId = body.client_id;
  let secret = body.client_secret;
  const basic = /^Basic\s+(.+)$/i.exec(req.headers.authorization ?? '');
  if (basic) {
    const [id, sec] = Buffer.from(basic[1]!, 'base64').toString('utf8').split(':');
    clientId = decodeURIComponent(id ?? '');
    secret = decodeURIComponent(sec ?? '');
  }
  if (!clientId) return { status: 400, error: 'invalid_request', description: 'Could not determine client ID from request.' };
  const client = ctx.state.clients.get('google', clientId);
  if (!client) return { status: 401, error: 'invalid_client', description: 'The OAuth client was not found.' };
  const a = Buffer.from(secret ?? '');
  const b = Buffer.from(client.clientSecret);
  if (a.length !== b.length || !timingSafeEqual(a, b)) return { status: 401, error: 'invalid_client', description: 'Unauthorized' };
  return { clientId };
}

async function idToken(ctx: GoogleCtx, clientId: string, address: string, scopes: string[], nonce: string | null): Promise<string | undefined> {
  if (!scopes.includes('openid')) return undefined;
  const now = Math.floor(ctx.state.clock.now().getTime() / 1000);
  const mailbox = ctx.state.mail.mailbox(address);
  const claims: Record<string, unknown> = { azp: clientId, sub: subjectOf(address), at_hash: undefined };
  if (scopes.includes('https://www.googleapis.com/auth/userinfo.email')) Object.assign(claims, { email: address, email_verified: true });
  if (mailbox) claims.hd = mailbox.domain;
  if (nonce) claims.nonce = nonce;
  delete claims.at_hash;
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'RS256', kid: ctx.g.kid, typ: 'JWT' })
    .setIssuer('https://accounts.google.com')
    .setAudience(clientId)
    .setIssuedAt(now)
    .setExpirationTime(now + 3600)
    .sign(ctx.g.privateKey);
}

function mintAccess(ctx: GoogleCtx, r: { clientId: string; address: string; scopes: string[]; grantKey: string; refreshToken: string | null }): AccessToken {
  const token: AccessToken = {
    token: newAccessToken(),
    ...r,
    expiresAt: new Date(ctx.state.clock.now().getTime() + ctx.state.limits.google.accessTokenLifetimeSeconds * 1000),
    revoked: false,
  };
  ctx.g.accessTokens.set(token.token, token);
  return token;
}

/** Revokes a whole grant: its refresh tokens and every access token minted from it (Google's behaviour). */
export function revokeGrant(ctx: GoogleCtx, key: string, address: string, via: string): void {
  const at = ctx.state.clock.now();
  for (const r of ctx.g.refreshTokens.values()) {
    if (r.grantKey === key && !r.revoked) {
      r.revoked = true;
      ctx.state.revocations.record(address, { provider: 'google', kind: 'token', id: fingerprint(r.token), at, detail: `refresh token revoked (${via})` });
    }
  }
  for (const a of ctx.g.accessTokens.values()) {
    if (a.grantKey === key && !a.revoked) {
      a.revoked = true;
      ctx.state.revocations.record(address, { provider: 'google', kind: 'token', id: fingerprint(a.token), at, detail: `access token revoked (${via})` });
    }
  }
  ctx.g.grants.delete(key);
}

/** The access token of a request (Authorization: Bearer, or `access_token` in the query). */
export function authenticate(ctx: GoogleCtx, authorization: string | undefined, queryToken: string | null | undefined): AccessToken {
  const m = /^Bearer\s+(\S+)$/i.exec(authorization ?? '');
  const raw = m?.[1] ?? queryToken ?? undefined;
  if (!raw) throw loginRequired();
  const t = ctx.g.accessTokens.get(raw);
  if (!t || t.revoked || t.expiresAt.getTime() <= ctx.state.clock.now().getTime()) throw invalidCredentials();
  return t;
}

export function registerOAuthRoutes(app: FastifyInstance, ctx: GoogleCtx): void {
  app.get('/o/oauth2/v2/auth', async (req, reply) => {
    const params = flatten(req.query);
    const v = validateAuthRequest(ctx, params, reply);
    if (!v) return reply;
    if (params.auto_consent === '1' || params.auto_consent === 'deny') {
      const mailbox = params.login_hint ? ctx.state.mail.mailbox(params.login_hint) : undefined;
      if (!mailbox || mailbox.provider !== 'google') return errorPage(reply, 400, 'invalid_request', `Couldn't find your Google Account (${params.login_hint ?? 'no login_hint'}).`);
      return decide(ctx, v, mailbox, params.auto_consent === '1', reply);
    }
    const hinted = params.login_hint ? ctx.state.mail.mailbox(params.login_hint) : undefined;
    return reply.type('text/html; charset=utf-8').send(consentPage(v, undefined, undefined, !!hinted?.password));
  });

  app.post('/o/oauth2/v2/auth/consent', async (req, reply) => {
    const params = flatten(req.body);
    const v = validateAuthRequest(ctx, params, reply);
    if (!v) return reply;
    if (params.decision === 'deny') return reply.redirect(redirectWith(v.redirectUri, { error: 'access_denied', state: params.state }), 302);
    const mailbox = ctx.state.mail.mailbox(params.email ?? '');
    if (!mailbox || mailbox.provider !== 'google') return reply.code(200).type('text/html; charset=utf-8').send(consentPage(v, "Couldn't find your Google Account", params.email));
    if ((mailbox.password ?? '') !== (params.password ?? '')) {
      const message = params.password === undefined ? 'This mailbox has a password. Enter it to continue.' : 'Wrong password. Try again.';
      return reply.code(200).type('text/html; charset=utf-8').send(consentPage(v, message, params.email, true));
    }
    return decide(ctx, v, mailbox, true, reply);
  });

  app.post('/token', async (req, reply) => {
    const body = { ...flatten(req.query), ...flatten(req.body) };
    const client = clientAuth(ctx, req, body);
    if ('error' in client) return oauthError(reply, client.status, client.error, client.description);
    const fault = ctx.state.faults.take('google', req.method, req.url, ['invalid_grant']);
    if (fault) return oauthError(reply, 400, 'invalid_grant', 'Token has been expired or revoked.');
    const now = ctx.state.clock.now();
    if (body.grant_type === 'authorization_code') {
      const code = ctx.g.codes.get(body.code ?? '');
      if (!code) return oauthError(reply, 400, 'invalid_grant', 'Malformed auth code.');
      if (code.used) return oauthError(reply, 400, 'invalid_grant', 'Bad Request');
      if (code.clientId !== client.clientId) return oauthError(reply, 400, 'invalid_grant', 'Bad Request');
      if (now.getTime() - code.issuedAt.getTime() > ctx.g.config.authorizationCodeLifetimeSeconds * 1000) return oauthError(reply, 400, 'invalid_grant', 'Bad Request');
      if (body.redirect_uri !== code.redirectUri) return oauthError(reply, 400, 'redirect_uri_mismatch', 'Bad Request');
      if (code.codeChallenge) {
        const verifier = body.code_verifier;
        if (!verifier) return oauthError(reply, 400, 'invalid_grant', 'Missing code verifier.');
        const computed = code.codeChallengeMethod === 'S256' ? createHash('sha256').update(verifier).digest('base64url') : verifier;
        if (computed !== code.codeChallenge) return oauthError(reply, 400, 'invalid_grant', 'Invalid code verifier.');
      }
      code.used = true;
      const key = grantKey(code.clientId, code.address);
      const hadGrant = ctx.g.grants.has(key);
      ctx.g.grants.set(key, new Set([...(ctx.g.grants.get(key) ?? []), ...code.scopes]));
      let refresh: RefreshToken | null = null;
      // Google returns a refresh token on the first offline consent, or whenever consent was prompted.
      if (code.offline && (code.forceConsent || !hadGrant)) {
        refresh = { token: newRefreshToken(), clientId: code.clientId, address: code.address, scopes: code.scopes, grantKey: key, issuedAt: now, revoked: false };
        ctx.g.refreshTokens.set(refresh.token, refresh);
        const live = [...ctx.g.refreshTokens.values()].filter((r) => r.grantKey === key && !r.revoked);
        for (const old of live.slice(0, Math.max(0, live.length - ctx.g.config.maxRefreshTokensPerGrant))) old.revoked = true;
      }
      const access = mintAccess(ctx, { clientId: code.clientId, address: code.address, scopes: code.scopes, grantKey: key, refreshToken: refresh?.token ?? null });
      const id = await idToken(ctx, code.clientId, code.address, code.scopes, code.nonce);
      return reply.header('cache-control', 'no-store').send({
        access_token: access.token,
        expires_in: ctx.state.limits.google.accessTokenLifetimeSeconds,
        ...(refresh ? { refresh_token: refresh.token } : {}),
        scope: code.scopes.join(' '),
        token_type: 'Bearer',
        ...(id ? { id_token: id } : {}),
      });
    }
    if (body.grant_type === 'refresh_token') {
      const r = ctx.g.refreshTokens.get(body.refresh_token ?? '');
      if (!r || r.revoked) return oauthError(reply, 400, 'invalid_grant', 'Token has been expired or revoked.');
      if (r.clientId !== client.clientId) return oauthError(reply, 400, 'unauthorized_client', 'Unauthorized');
      const mailbox = ctx.state.mail.mailbox(r.address);
      if (!mailbox) return oauthError(reply, 400, 'invalid_grant', 'Token has been expired or revoked.');
      const blocked = blockedScopes(ctx.state, mailbox, r.scopes);
      if (blocked.length) return oauthError(reply, 400, 'admin_policy_enforced', `Access to your account data is restricted by policies within your organization. Blocked: ${blocked.join(' ')}`);
      const access = mintAccess(ctx, { clientId: r.clientId, address: r.address, scopes: r.scopes, grantKey: r.grantKey, refreshToken: r.token });
      const id = await idToken(ctx, r.clientId, r.address, r.scopes, null);
      return reply.header('cache-control', 'no-store').send({
        access_token: access.token,
        expires_in: ctx.state.limits.google.accessTokenLifetimeSeconds,
        scope: r.scopes.join(' '),
        token_type: 'Bearer',
        ...(id ? { id_token: id } : {}),
      });
    }
    if (!body.grant_type) return oauthError(reply, 400, 'unsupported_grant_type', 'Invalid grant_type: ');
    return oauthError(reply, 400, 'unsupported_grant_type', `Invalid grant_type: ${body.grant_type}`);
  });

  app.post('/revoke', async (req, reply) => {
    const body = { ...flatten(req.query), ...flatten(req.body) };
    const token = body.token ?? '';
    const refresh = ctx.g.refreshTokens.get(token);
    const access = ctx.g.accessTokens.get(token);
    const live = (refresh && !refresh.revoked) || (access && !access.revoked && access.expiresAt.getTime() > ctx.state.clock.now().getTime());
    if (!live) return reply.code(400).send({ error: 'invalid_token', error_description: 'Token expired or revoked' });
    const rec = (refresh ?? access)!;
    revokeGrant(ctx, rec.grantKey, rec.address, refresh ? 'refresh token' : 'access token');
    return reply.code(200).header('content-type', 'application/json; charset=utf-8').send('{}');
  });

  const userinfo = async (req: FastifyRequest, reply: FastifyReply) => {
    try {
      const t = authenticate(ctx, req.headers.authorization, (req.query as Record<string, string>).access_token);
      const mailbox = ctx.state.mail.mailbox(t.address);
      const info: Record<string, unknown> = { sub: subjectOf(t.address) };
      if (t.scopes.includes('https://www.googleapis.com/auth/userinfo.profile')) Object.assign(info, { name: mailbox?.displayName ?? t.address });
      if (t.scopes.includes('https://www.googleapis.com/auth/userinfo.email') || t.scopes.includes('openid')) Object.assign(info, { email: t.address, email_verified: true });
      if (mailbox) info.hd = mailbox.domain;
      return info;
    } catch (e) {
      if (e instanceof Error && 'body' in e) return reply.code(401).send({ error: 'invalid_request', error_description: 'Invalid Credentials' });
      throw e;
    }
  };
  app.get('/oauth2/v3/userinfo', userinfo);
  app.get('/oauth2/v2/userinfo', userinfo);
  app.get('/oauth2/v3/tokeninfo', async (req, reply) => {
    const q = req.query as Record<string, string>;
    const t = ctx.g.accessTokens.get(q.access_token ?? '');
    if (!t || t.revoked || t.expiresAt.getTime() <= ctx.state.clock.now().getTime()) return reply.code(400).send({ error: 'invalid_token', error_description: 'Invalid Value' });
    const exp = Math.floor(t.expiresAt.getTime() / 1000);
    return {
      azp: t.clientId,
      aud: t.clientId,
      sub: subjectOf(t.address),
      scope: t.scopes.join(' '),
      exp: String(exp),
      expires_in: String(Math.max(0, exp - Math.floor(ctx.state.clock.now().getTime() / 1000))),
      email: t.address,
      email_verified: 'true',
      access_type: t.refreshToken ? 'offline' : 'online',
    };
  });
  app.get('/oauth2/v3/certs', async (_req, reply) => reply.header('cache-control', 'public, max-age=3600').send({ keys: [ctx.g.jwk] }));
  // The same keys as PEM X.509 certificates keyed by kid, as Google serves them (google-auth-library's
  // OAuth2Client.verifyIdToken and Pub/Sub push verification read this one). Built once, from the clock then.
  let pemCerts: Record<string, string> | undefined;
  app.get('/oauth2/v1/certs', async (_req, reply) => {
    if (!pemCerts) {
      const now = ctx.state.clock.now().getTime();
      const pem = selfSignedCertificatePem({
        publicKey: createPublicKey({ key: { kty: ctx.g.jwk.kty!, n: ctx.g.jwk.n!, e: ctx.g.jwk.e! }, format: 'jwk' }),
        privateKey: KeyObject.from(ctx.g.privateKey),
        commonName: 'federated-signon.system.gserviceaccount.com',
        notBefore: new Date(now - 86_400_000),
        notAfter: new Date(now + 3650 * 86_400_000),
      });
      pemCerts = { [ctx.g.kid]: pem };
    }
    return reply.header('cache-control', 'public, max-age=3600').send(pemCerts);
  });
}
