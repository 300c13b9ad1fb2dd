import { ProviderError } from '../errors.ts';
import { genericError, providerFetch } from '../http.ts';
import type { MicrosoftEndpoints } from '../endpoints.ts';
import type { MailSender, OutgoingMessage, SentMessage } from '../types.ts';

/**
 * Graph `POST /me/sendMail` with the composed MIME message (base64, `Content-Type: text/plain`), which needs
 * only Mail.Send and keeps our Message-ID, In-Reply-To and References (replies thread on them). Graph answers
 * 202 with no body: the provider ids become known when sync sees the message in Sent Items, where the
 * stored copy is matched by its Message-ID.
 */
export class GraphSender implements MailSender {
  constructor(
    private readonly endpoints: MicrosoftEndpoints,
    private readonly now: () => Date,
  ) {}

  async send(accessToken: string, message: OutgoingMessage): Promise<SentMessage> {
    await providerFetch(
      `${this.endpoints.graph}/me/sendMail`,
      {
        method: 'POST',
        headers: { authorization: `Bearer ${accessToken}`, 'content-type': 'text/plain' },
        body: Buffer.from(message.raw).toString('base64'),
        parse: 'none',
      },
      (status, body, headers) => classifyGraphError(status, body, headers, this.now()),
    );
    return { providerMessageId: null, providerThreadId: null };
  }
}

/** Graph's JSON errors: `{error: {code, message}}`. */
export function classifyGraphError(status: number, body: unknown, headers: Headers, now: Date): ProviderError {
  const error = (body as { error?: { code?: string; message?: string } } | undefined)?.error;
  const fallback = genericError(status, headers, now);
  if (status === 403 && /AccessDenied|ErrorAccessDenied/i.test(error?.code ?? '')) {
    return new ProviderError('consent', `Microsoft refused: ${error?.message ?? error?.code}`, { status, providerCode: error?.code ?? 'AccessDenied' });
  }
  if (status === 401) return new ProviderError('auth', `Microsoft refused the access token${error?.code ? ` (${error.code})` : ''}`, { status, ...(error?.code ? { providerCode: error.code } : {}) });
  return new ProviderError(fallback.kind, `${fallback.message}${error?.message ? `: ${error.message}` : ''}`, { ...fallback.details, ...(error?.code ? { providerCode: error.code } : {}) });
}
