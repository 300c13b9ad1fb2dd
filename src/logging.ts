import pino, { type DestinationStream, type LoggerOptions } from 'pino';

/**
 * Structured JSON logs. Secrets and personal data never reach them: credentials, cookies, tokens and message
 * bodies are redacted by path, and request logs carry the method, the route pattern (or, for unmatched requests,
 * the path without its query string) and the status — never query strings (the OAuth callback's `code` and
 * `state`, a decision lookup's `?address=`), headers or bodies.
 */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-csrf-token"]',
  'res.headers["set-cookie"]',
  '*.password',
  '*.token',
  '*.accessToken',
  '*.refreshToken',
  '*.access_token',
  '*.refresh_token',
  '*.code_verifier',
  '*.bodyHtml',
  '*.bodyText',
  '*.raw',
];

interface LoggedRequest {
  id?: string;
  method?: string;
  url?: string;
  routeOptions?: { url?: string | undefined };
}

/** The request as logged: the route pattern (`/oauth/:provider/callback`) where one matched, else the bare path. */
export function requestForLog(req: LoggedRequest): { id?: string; method?: string; route: string } {
  const route = req.routeOptions?.url ?? (req.url ?? '').split('?')[0] ?? '';
  return { ...(req.id ? { id: req.id } : {}), ...(req.method ? { method: req.method } : {}), route };
}

export const LOG_SERIALIZERS = {
  req: requestForLog,
  res: (reply: { statusCode?: number }) => ({ statusCode: reply.statusCode }),
  err: pino.stdSerializers.err,
};

export function loggerOptions(level: string): LoggerOptions {
  return { level, redact: { paths: REDACTED_PATHS, censor: '[redacted]' }, serializers: LOG_SERIALIZERS };
}

/** `destination` defaults to standard output; tests pass a buffer to read what a run logs. */
export const createLogger = (level: string, destination?: DestinationStream) =>
  destination ? pino(loggerOptions(level), destination) : pino(loggerOptions(level));
export type Logger = pino.Logger;
