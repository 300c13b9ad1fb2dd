import type { FastifyReply } from 'fastify';
import { newGuid } from './ids.ts';

/**
 * Error bodies exactly as the two Microsoft services write them: Graph's OData error
 * (`{error:{code,message,innerError:{date,request-id,client-request-id}}}`) and the identity platform's
 * (`{error, error_description: "AADSTSnnnn: …\r\nTrace ID: …", error_codes, timestamp, trace_id, correlation_id}`).
 */

export class GraphError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export function graphErrorBody(code: string, message: string, now: Date, requestId: string, clientRequestId: string) {
  return {
    error: {
      code,
      message,
      innerError: { date: now.toISOString().replace(/\.\d{3}Z$/, ''), 'request-id': requestId, 'client-request-id': clientRequestId },
    },
  };
}

export function sendGraphError(reply: FastifyReply, err: GraphError, now: Date): FastifyReply {
  const requestId = String(reply.getHeader('request-id') ?? newGuid());
  const clientRequestId = String(reply.getHeader('client-request-id') ?? requestId);
  for (const [k, v] of Object.entries(err.headers)) reply.header(k, v);
  return reply.code(err.status).type('application/json').send(graphErrorBody(err.code, err.message, now, requestId, clientRequestId));
}

export const notFound = (what = 'The specified object was not found in the store.') => new GraphError(404, 'ErrorItemNotFound', what);
export const badRequest = (message: string, code = 'BadRequest') => new GraphError(400, code, message);
export const invalidRequest = (message: string) => new GraphError(400, 'ErrorInvalidRequest', message);
export const accessDenied = () => new GraphError(403, 'ErrorAccessDenied', 'Access is denied. Check credentials and try again.');

/** `2024-05-01 10:11:12Z`, the identity platform's timestamp format. */
export function aadTimestamp(now: Date): string {
  return now.toISOString().replace('T', ' ').replace(/\.\d{3}Z$/, 'Z');
}

export interface AadError {
  status: number;
  error: string;
  aadsts: number;
  description: string;
  suberror?: string;
}

export function aadErrorBody(e: AadError, now: Date) {
  const traceId = newGuid();
  const correlationId = newGuid();
  const ts = aadTimestamp(now);
  return {
    error: e.error,
    error_description: `AADSTS${e.aadsts}: ${e.description} Trace ID: ${traceId} Correlation ID: ${correlationId} Timestamp: ${ts}`,
    error_codes: [e.aadsts],
    timestamp: ts,
    trace_id: traceId,
    correlation_id: correlationId,
    error_uri: `https://login.microsoftonline.com/error?code=${e.aadsts}`,
    ...(e.suberror ? { suberror: e.suberror } : {}),
  };
}
