import { ProviderError } from '../errors.ts';
import { genericError, providerFetch } from '../http.ts';
import type { GoogleEndpoints } from '../endpoints.ts';
import type { MailSender, OutgoingMessage, SentMessage } from '../types.ts';

/**
 * Gmail `users.messages.send` with the composed RFC 5322 message (base64url `raw`). A reply names the
 * Gmail thread: Gmail joins it only when `threadId` is given and the References/In-Reply-To and Subject
 * headers agree, which the composed message guarantees.
 */
export class GmailSender implements MailSender {
  constructor(
    private readonly endpoints: GoogleEndpoints,
    private readonly now: () => Date,
  ) {}

  async send(accessToken: string, message: OutgoingMessage): Promise<SentMessage> {
    const response = await providerFetch<{ id: string; threadId: string }>(
      `${this.endpoints.gmail}/users/me/messages/send`,
      {
        method: 'POST',
        headers: { authorization: `Bearer ${accessToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ raw: Buffer.from(message.raw).toString('base64url'), ...(message.providerThreadId ? { threadId: message.providerThreadId } : {}) }),
      },
      (status, body, headers) => classifyGmailError(status, body, headers, this.now()),
    );
    return { providerMessageId: response.body.id, providerThreadId: response.body.threadId };
  }
}

/** Gmail's JSON errors: `{error: {code, message, errors: [{reason}], status}}`. */
export function classifyGmailError(status: number, body: unknown, headers: Headers, now: Date): ProviderError {
  const error = (body as { error?: { message?: string; errors?: Array<{ reason?: string }> } } | undefined)?.error;
  const reason = error?.errors?.[0]?.reason ?? '';
  const fallback = genericError(status, headers, now);
  if (status === 403 && /rateLimitExceeded|userRateLimitExceeded|dailyLimitExceeded/.test(reason)) {
    return new ProviderError('throttled', `Gmail limit reached (${reason})`, { status, providerCode: reason, retryAfterSeconds: fallback.details.retryAfterSeconds ?? 60 });
  }
  if (status === 403 && /insufficientPermissions|forbidden/i.test(reason)) {
    return new ProviderError('consent', `Gmail refused: ${error?.message ?? reason}`, { status, providerCode: reason });
  }
  return new ProviderError(fallback.kind, `${fallback.message}${error?.message ? `: ${error.message}` : ''}`, { ...fallback.details, ...(reason ? { providerCode: reason } : {}) });
}
