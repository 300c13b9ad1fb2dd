import type { AuthorizationRequest, MailboxIdentity, OAuthClient, TokenSet } from '../types.ts';
import { ProviderError } from '../errors.ts';
import { form, genericError, providerFetch } from '../http.ts';
import type { GoogleEndpoints } from '../endpoints.ts';

interface GoogleTokenResponse {
  access_token: string;
  expires_in: number;
  refresh_token?: string;
  scope?: string;
}

/** Google OAuth 2.0 for web server apps: authorization code + PKCE, offline access, revocation. */
export class GoogleOAuthClient implements OAuthClient {
  readonly provider = 'google' as const;

  constructor(
    private readonly endpoints: GoogleEndpoints,
    private readonly client: { id: string; secret: string },
    private readonly now: () => Date,
  ) {}

  authorizationUrl(request: AuthorizationRequest): string {
    const url = new URL(this.endpoints.authorize);
    url.search = form({
      client_id: this.client.id,
      redirect_uri: request.redirectUri,
      response_type: 'code',
      scope: request.scopes.join(' '),
      state: request.state,
      code_challenge: request.codeChallenge,
      code_challenge_method: 'S256',
      access_type: 'offline',
      // Consent every time: Google issues a refresh token only on consent, and a re-authorization after a
      // level change must show the new scopes. No include_granted_scopes: each grant holds only its own
      // scopes (R-10 least privilege; email and calendar stay separate grants).
      prompt: 'consent',
      login_hint: request.loginHint,
    }).toString();
    return url.toString();
  }

  async exchangeCode(params: { code: string; codeVerifier: string; redirectUri: string }): Promise<TokenSet> {
    return this.tokenRequest({
      grant_type: 'authorization_code',
      code: params.code,
      code_verifier: params.codeVerifier,
      redirect_uri: params.redirectUri,
    });
  }

  async refresh(refreshToken: string): Promise<TokenSet> {
    return this.tokenRequest({ grant_type: 'refresh_token', refresh_token: refreshToken });
  }

  async revoke(token: string): Promise<'revoked' | 'unsupported'> {
    try {
      await providerFetch(this.endpoints.revoke, { method: 'POST', body: form({ token }), parse: 'text' }, (status, body) =>
        // Google answers 400 invalid_token for a token that is already revoked or expired: the goal is met.
        status === 400 && errorCode(body) === 'invalid_token' ? new ProviderError('auth', 'already revoked') : undefined,
      );
    } catch (error) {
      if (error instanceof ProviderError && error.kind === 'auth') return 'revoked';
      throw error;
    }
    return 'revoked';
  }

  async identity(accessToken: string): Promise<MailboxIdentity> {
    const headers = { authorization: `Bearer ${accessToken}` };
    const info = await providerFetch<{ email?: string }>(this.endpoints.userinfo, { headers }, () => undefined);
    const address = info.body.email;
    if (!address) throw new ProviderError('permanent', 'Google did not return the mailbox address');
    let aliases: string[] = [];
    try {
      const sendAs = await providerFetch<{ sendAs?: Array<{ sendAsEmail: string }> }>(`${this.endpoints.gmail}/users/me/settings/sendAs`, { headers }, () => undefined);
      aliases = (sendAs.body.sendAs ?? []).map((s) => s.sendAsEmail).filter((a) => a.toLowerCase() !== address.toLowerCase());
    } catch (error) {
      // A calendar-only grant cannot read Gmail settings; the address alone is enough there.
      if (!(error instanceof ProviderError) || error.kind === 'transient' || error.kind === 'throttled') throw error;
    }
    return { address, aliases };
  }

  private async tokenRequest(fields: Record<string, string>): Promise<TokenSet> {
    const response = await providerFetch<GoogleTokenResponse>(
      this.endpoints.token,
      { method: 'POST', body: form({ ...fields, client_id: this.client.id, client_secret: this.client.secret }) },
      (status, body, headers) => classifyGoogleOAuthError(status, body, headers, this.now()),
    );
    const body = response.body;
    return {
      accessToken: body.access_token,
      refreshToken: body.refresh_token,
      expiresAt: new Date(this.now().getTime() + body.expires_in * 1000),
      scopes: (body.scope ?? '').split(/\s+/).filter(Boolean),
    };
  }
}

const errorCode = (body: unknown): string | undefined =>
  body && typeof body === 'object' && 'error' in body && typeof body.error === 'string' ? body.error : undefined;

export function classifyGoogleOAuthError(status: number, body: unknown, headers: Headers, now: Date): ProviderError {
  const code = errorCode(body);
  const description = body && typeof body === 'object' && 'error_description' in body ? String(body.error_description) : '';
  if (code === 'invalid_grant') return new ProviderError('auth', `Google refused the grant: ${description || 'invalid_grant'}`, { status, providerCode: code });
  if (code === 'admin_policy_enforced' || code === 'access_denied') {
    return new ProviderError('consent', `Google refused the permission: ${description || code}`, { status, providerCode: code });
  }
  if (code === 'invalid_client' || code === 'unauthorized_client') {
    return new ProviderError('permanent', `Google does not accept this app's client credentials (${code})`, { status, providerCode: code });
  }
  return genericError(status, headers, now);
}
