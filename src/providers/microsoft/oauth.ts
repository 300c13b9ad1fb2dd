import type { AuthorizationRequest, MailboxIdentity, OAuthClient, TokenSet } from '../types.ts';
import { ProviderError } from '../errors.ts';
import { form, genericError, providerFetch } from '../http.ts';
import type { MicrosoftEndpoints } from '../endpoints.ts';

interface MicrosoftTokenResponse {
  access_token: string;
  expires_in: number;
  refresh_token?: string;
  scope?: string;
}

/** Microsoft identity platform v2: authorization code + PKCE with rolling refresh tokens. */
export class MicrosoftOAuthClient implements OAuthClient {
  readonly provider = 'microsoft' as const;

  constructor(
    private readonly endpoints: MicrosoftEndpoints,
    private readonly client: { id: string; secret: string },
    private readonly now: () => Date,
  ) {}

  authorizationUrl(request: AuthorizationRequest): string {
    const url = new URL(this.endpoints.authorize);
    url.search = form({
      client_id: this.client.id,
      response_type: 'code',
      redirect_uri: request.redirectUri,
      response_mode: 'query',
      scope: request.scopes.join(' '),
      state: request.state,
      code_challenge: request.codeChallenge,
      code_challenge_method: 'S256',
      login_hint: request.loginHint,
      prompt: request.forceConsent ? 'consent' : 'select_account',
    }).toString();
    return url.toString();
  }

  async exchangeCode(params: { code: string; codeVerifier: string; redirectUri: string }): Promise<TokenSet> {
    return this.tokenRequest({ grant_type: 'authorization_code', code: params.code, code_verifier: params.codeVerifier, redirect_uri: params.redirectUri }, undefined);
  }

  async refresh(refreshToken: string, scopes: string[]): Promise<TokenSet> {
    return this.tokenRequest({ grant_type: 'refresh_token', refresh_token: refreshToken, scope: scopes.join(' ') }, refreshToken);
  }

  /**
   * Microsoft has no endpoint that revokes one app's refresh token (revokeSignInSessions would sign the user
   * out of every application), so deauthorization deletes the tokens and the subscriptions instead.
   */
  async revoke(): Promise<'revoked' | 'unsupported'> {
    return 'unsupported';
  }

  async identity(accessToken: string): Promise<MailboxIdentity> {
    const response = await providerFetch<{ mail?: string | null; userPrincipalName?: string; proxyAddresses?: string[] }>(
      `${this.endpoints.graph}/me?$select=mail,userPrincipalName,proxyAddresses`,
      { headers: { authorization: `Bearer ${accessToken}` } },
      () => undefined,
    );
    const address = response.body.mail ?? response.body.userPrincipalName;
    if (!address) throw new ProviderError('permanent', 'Microsoft did not return the mailbox address');
    // "SMTP:" marks the primary address, "smtp:" the secondary ones (aliases).
    const aliases = (response.body.proxyAddresses ?? [])
      .filter((p) => /^smtp:/i.test(p))
      .map((p) => p.slice(5))
      .filter((a) => a.toLowerCase() !== address.toLowerCase());
    return { address, aliases };
  }

  private async tokenRequest(fields: Record<string, string>, previousRefreshToken: string | undefined): Promise<TokenSet> {
    const response = await providerFetch<MicrosoftTokenResponse>(
      this.endpoints.token,
      { method: 'POST', body: form({ ...fields, client_id: this.client.id, client_secret: this.client.secret }) },
      (status, body, headers) => classifyMicrosoftOAuthError(status, body, headers, this.now()),
    );
    const body = response.body;
    return {
      accessToken: body.access_token,
      // Refresh tokens roll: keep the new one; the previous one stays usable only when none is returned.
      refreshToken: body.refresh_token ?? previousRefreshToken,
      expiresAt: new Date(this.now().getTime() + body.expires_in * 1000),
      scopes: (body.scope ?? '').split(/\s+/).filter(Boolean),
    };
  }
}

export function classifyMicrosoftOAuthError(status: number, body: unknown, headers: Headers, now: Date): ProviderError {
  const b = (body && typeof body === 'object' ? body : {}) as { error?: string; error_description?: string; error_codes?: number[] };
  const description = b.error_description ?? '';
  const aadCode = /AADSTS(\d+)/.exec(description)?.[1];
  if (b.error === 'consent_required' || aadCode === '65001') {
    const missingScope = /scope[s]?\s+'?([\w.]+)'?/i.exec(description)?.[1];
    return new ProviderError('consent', `Microsoft requires consent: ${firstLine(description)}`, { status, providerCode: b.error ?? 'consent_required', ...(missingScope ? { missingScope } : {}) });
  }
  if (b.error === 'invalid_grant' || b.error === 'interaction_required') {
    return new ProviderError('auth', `Microsoft refused the grant: ${firstLine(description) || b.error}`, { status, providerCode: aadCode ? `AADSTS${aadCode}` : b.error });
  }
  if (b.error === 'invalid_client' || b.error === 'unauthorized_client') {
    return new ProviderError('permanent', `Microsoft does not accept this app's client credentials (${b.error})`, { status, providerCode: b.error });
  }
  return genericError(status, headers, now);
}

const firstLine = (text: string): string => text.split(/\r?\n/)[0] ?? '';
