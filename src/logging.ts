import pino, { type LoggerOptions } from 'pino';

/**
 * Structured JSON logs. Secrets never reach them: credentials, cookies, tokens and message bodies are
 * redacted by path, and request logs carry the route, not bodies.
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

export function loggerOptions(level: string): LoggerOptions {
  return { level, redact: { paths: REDACTED_PATHS, censor: '[redacted]' } };
}

export const createLogger = (level: string) => pino(loggerOptions(level));
export type Logger = pino.Logger;
