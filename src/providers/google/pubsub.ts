import { createRemoteJWKSet, errors as joseErrors, jwtVerify, type JWTVerifyGetKey } from 'jose';
import { z } from 'zod';
import { PushAuthError, type PushNotice } from '../push.ts';

/**
 * Gmail push through a Pub/Sub push subscription (https://developers.google.com/gmail/api/guides/push,
 * https://cloud.google.com/pubsub/docs/authenticate-push-subscriptions). Pub/Sub signs each push with an OIDC token
 * of the subscription's service account: RS256 by a key of Google's JWKS, `iss` accounts.google.com, `aud` the
 * audience configured on the subscription (by default the push endpoint's URL).
 */

const ISSUERS = ['https://accounts.google.com', 'accounts.google.com'];

export interface PubSubVerifierOptions {
  /** Google's OIDC signing keys (`…/oauth2/v3/certs`, on the host `GOOGLE_API_BASE_URL` stands for). */
  certsUrl: string;
  /** The `aud` the subscription's tokens carry. */
  audience: string;
  /** When set, only tokens of this service account are accepted. */
  serviceAccountEmail?: string | undefined;
  now: () => Date;
}

export class PubSubPushVerifier {
  private readonly keys: JWTVerifyGetKey;

  constructor(private readonly options: PubSubVerifierOptions) {
    this.keys = createRemoteJWKSet(new URL(options.certsUrl), { timeoutDuration: 5_000 });
  }

  /** Throws `PushAuthError` unless the request carries a valid token for us. */
  async verify(authorization: string | undefined): Promise<void> {
    const match = /^Bearer\s+([A-Za-z0-9_\-.]+)$/i.exec(authorization ?? '');
    if (!match) throw new PushAuthError(401, 'a Pub/Sub push must carry its OIDC token as a bearer token');
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(match[1]!, this.keys, {
        issuer: ISSUERS,
        audience: this.options.audience,
        algorithms: ['RS256'],
        currentDate: this.options.now(),
        clockTolerance: 60,
        requiredClaims: ['exp', 'iat'],
      }));
    } catch (error) {
      if (error instanceof joseErrors.JWTClaimValidationFailed) throw new PushAuthError(403, `token not meant for this endpoint (${error.claim})`);
      if (error instanceof joseErrors.JWKSTimeout || (error instanceof TypeError && /fetch/i.test(error.message))) {
        throw new PushAuthError(503, "Google's signing keys could not be read");
      }
      if (error instanceof joseErrors.JOSEError) throw new PushAuthError(401, `invalid token (${error.code})`);
      throw error;
    }
    const expected = this.options.serviceAccountEmail;
    if (expected && (payload.email !== expected || payload.email_verified !== true)) {
      throw new PushAuthError(403, 'token of another service account');
    }
  }
}

const PushBody = z.object({
  message: z.object({
    data: z.string().max(8_192).regex(/^[A-Za-z0-9+/_-]*={0,2}$/, 'base64'),
    messageId: z.string().max(200).optional(),
    publishTime: z.string().max(100).optional(),
  }),
  subscription: z.string().max(500).optional(),
});

const GmailNotification = z.object({
  emailAddress: z.string().min(3).max(320).includes('@'),
  historyId: z.union([z.number().int().nonnegative(), z.string().regex(/^\d{1,30}$/)]),
});

/** The Gmail notification inside a Pub/Sub push body; throws a `ZodError` for anything else. */
export function decodePubSubPush(body: unknown): PushNotice {
  const push = PushBody.parse(body);
  let data: unknown;
  try {
    data = JSON.parse(Buffer.from(push.message.data, 'base64').toString('utf8'));
  } catch {
    data = undefined;
  }
  const notification = GmailNotification.parse(data);
  return { provider: 'google', event: 'changed', channelId: notification.emailAddress.toLowerCase(), secret: null, position: String(notification.historyId) };
}
