import { randomBytes } from 'node:crypto';
import { badRequest, type GoogleApiError } from './errors.ts';
import { dispatch, type GResponse } from './gmail.ts';
import type { GoogleCtx } from './oauth.ts';

/**
 * Batch requests (https://developers.google.com/gmail/api/guides/batch): a multipart/mixed body of at most
 * 100 `application/http` parts, each run as its own request (own quota units), answered as multipart/mixed
 * with `Content-ID: <response-…>` per part, in order.
 */

const REASONS: Record<number, string> = { 200: 'OK', 204: 'No Content', 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed', 429: 'Too Many Requests', 500: 'Internal Server Error', 503: 'Service Unavailable' };

interface Part {
  contentId: string | null;
  method: string;
  path: string;
  query: URLSearchParams;
  headers: Record<string, string>;
  body: unknown;
}

function splitHead(buf: Buffer): { head: string; rest: Buffer } {
  const crlf = buf.indexOf('\r\n\r\n');
  const lf = buf.indexOf('\n\n');
  if (crlf >= 0 && (lf < 0 || crlf < lf)) return { head: buf.subarray(0, crlf).toString('utf8'), rest: buf.subarray(crlf + 4) };
  if (lf >= 0) return { head: buf.subarray(0, lf).toString('utf8'), rest: buf.subarray(lf + 2) };
  return { head: buf.toString('utf8'), rest: Buffer.alloc(0) };
}

function headerMap(lines: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of lines) {
    const i = line.indexOf(':');
    if (i > 0) out[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  return out;
}

export function parseBatch(body: Buffer, contentType: string): Part[] {
  const m = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  if (!/^multipart\/mixed/i.test(contentType) || !m) throw badRequest('Invalid batch request: Content-Type must be multipart/mixed with a boundary');
  const boundary = `--${m[1] ?? m[2]}`;
  const text = body;
  const parts: Part[] = [];
  let at = text.indexOf(boundary);
  while (at >= 0) {
    const start = at + boundary.length;
    if (text.subarray(start, start + 2).toString() === '--') break;
    const next = text.indexOf(boundary, start);
    let chunk = text.subarray(start, next < 0 ? text.length : next);
    chunk = chunk.subarray(chunk[0] === 0x0d ? 2 : chunk[0] === 0x0a ? 1 : 0);
    let end = chunk.length;
    if (chunk[end - 1] === 0x0a) end--;
    if (chunk[end - 1] === 0x0d) end--;
    chunk = chunk.subarray(0, end);
    const outer = splitHead(chunk);
    const outerHeaders = headerMap(outer.head.split(/\r?\n/));
    const inner = splitHead(outer.rest);
    const lines = inner.head.split(/\r?\n/);
    const requestLine = /^([A-Z]+)\s+(\S+)(?:\s+HTTP\/[\d.]+)?$/.exec((lines[0] ?? '').trim());
    if (!requestLine) throw badRequest('Invalid batch part: missing request line');
    let target = requestLine[2]!;
    if (/^https?:\/\//i.test(target)) {
      const u = new URL(target);
      target = u.pathname + u.search;
    }
    target = target.replace(/^\/google(?=\/)/, '');
    const [path, search] = target.split('?', 2) as [string, string | undefined];
    const headers = headerMap(lines.slice(1));
    let partBody: unknown = undefined;
    if (inner.rest.length) {
      const text = inner.rest.toString('utf8');
      partBody = /json/i.test(headers['content-type'] ?? 'application/json') ? safeJson(text) : inner.rest;
    }
    const cid = outerHeaders['content-id'] ?? null;
    parts.push({ contentId: cid ? cid.replace(/^<|>$/g, '') : null, method: requestLine[1]!, path, query: new URLSearchParams(search ?? ''), headers, body: partBody });
    at = next;
  }
  return parts;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function serialize(res: GResponse): string {
  const body = res.body === null || res.body === undefined ? '' : typeof res.body === 'string' ? res.body : Buffer.isBuffer(res.body) ? res.body.toString('utf8') : JSON.stringify(res.body, null, 2);
  const headers = Object.entries(res.headers).map(([k, v]) => `${k.replace(/(^|-)([a-z])/g, (_m, a: string, b: string) => a + b.toUpperCase())}: ${v}`);
  return [`HTTP/1.1 ${res.status} ${REASONS[res.status] ?? ''}`.trimEnd(), ...headers, 'Vary: Origin', 'Vary: X-Origin', 'Vary: Referer', '', body].join('\r\n');
}

export async function runBatch(ctx: GoogleCtx, body: Buffer, contentType: string, authorization: string | undefined): Promise<{ status: number; contentType: string; body: string } | GoogleApiError> {
  let parts: Part[];
  try {
    parts = parseBatch(body, contentType);
  } catch (e) {
    return e as GoogleApiError;
  }
  const limit = ctx.state.limits.google.batchLimit;
  if (parts.length > limit) return badRequest(`A batch request cannot contain more than ${limit} requests.`);
  const boundary = `batch_${randomBytes(9).toString('base64url')}`;
  const out: string[] = [];
  for (const p of parts) {
    const headers = { ...p.headers };
    if (!headers.authorization && authorization) headers.authorization = authorization;
    const res = await dispatch(ctx, { method: p.method, path: p.path, query: p.query, headers, body: p.body, inBatch: true });
    out.push(`--${boundary}\r\nContent-Type: application/http\r\n${p.contentId ? `Content-ID: <response-${p.contentId}>\r\n` : ''}\r\n${serialize(res)}\r\n`);
  }
  out.push(`--${boundary}--\r\n`);
  return { status: 200, contentType: `multipart/mixed; boundary=${boundary}`, body: out.join('') };
}
