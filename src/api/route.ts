import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { z} from 'zod';
import { type ZodType } from 'zod';
import type { Actor } from '../services/actors.ts';
import { AppError } from '../errors.ts';
import { zodToAppError } from './errors.ts';

/**
 * One declaration per route gives validation, handler types and the OpenAPI entry: the zod schemas are
 * parsed here at run time and turned into JSON Schema for `/openapi.json`, so the document cannot drift
 * from the code. Responses are parsed too, so a route cannot return a field the document does not list.
 */
export type AuthMode = 'none' | 'caller';

export interface RouteSpec<P extends ZodType, Q extends ZodType, B extends ZodType, R extends ZodType> {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  url: string;
  summary: string;
  tags: string[];
  auth: AuthMode;
  params?: P;
  query?: Q;
  body?: B;
  response?: R;
  successStatus?: number;
  /** Extra error codes worth documenting beyond the usual ones. */
  errors?: string[];
}

export interface RouteInput<P, Q, B> {
  params: P;
  query: Q;
  body: B;
  actor: Actor;
  request: FastifyRequest;
  reply: FastifyReply;
}

export interface RegisteredRoute {
  method: string;
  url: string;
  summary: string;
  tags: string[];
  auth: AuthMode;
  params?: ZodType;
  query?: ZodType;
  body?: ZodType;
  response?: ZodType;
  successStatus: number;
  errors: string[];
}

export const routeRegistry: RegisteredRoute[] = [];

declare module 'fastify' {
  interface FastifyRequest {
    actor?: Actor;
  }
}

type Out<T extends ZodType | undefined> = T extends ZodType ? z.output<T> : undefined;

/** What a handler may return for a response schema: time fields may still be Dates (see `toJson`). */
export type Wire<T> = T extends string
  ? string | Date
  : T extends Array<infer U>
    ? Array<Wire<U>>
    : T extends Date
      ? Date
      : T extends object
        ? { [K in keyof T]: Wire<T[K]> }
        : T;

export function defineRoute<
  P extends ZodType = ZodType<undefined>,
  Q extends ZodType = ZodType<undefined>,
  B extends ZodType = ZodType<undefined>,
  R extends ZodType = ZodType<unknown>,
>(
  app: FastifyInstance,
  spec: RouteSpec<P, Q, B, R>,
  handler: (input: RouteInput<Out<P>, Out<Q>, Out<B>>) => Promise<Wire<z.input<R>>>,
): void {
  const successStatus = spec.successStatus ?? (spec.method === 'POST' ? 201 : 200);
  if (!routeRegistry.some((r) => r.method === spec.method && r.url === spec.url)) {
    routeRegistry.push({ ...spec, successStatus, errors: spec.errors ?? [] } as RegisteredRoute);
  }
  app.route({
    method: spec.method,
    url: spec.url.replace(/\{(\w+)\}/g, ':$1'),
    config: { auth: spec.auth },
    handler: async (request, reply) => {
      const parse = <S extends ZodType | undefined>(schema: S, value: unknown, where: string): Out<S> => {
        if (!schema) return undefined as unknown as Out<S>;
        const result = schema.safeParse(value ?? (where === 'body' ? undefined : {}));
        if (!result.success) throw zodToAppError(result.error, where);
        return result.data as Out<S>;
      };
      // Before any schema: a control character or a date out of range in any string of the request is refused.
      const bad = badInput(request.params, 'params') ?? badInput(request.query, 'query') ?? badInput(request.body, 'body');
      if (bad) throw new AppError('validation_failed', `Invalid request — ${bad.path}: ${bad.message}`, { issues: [bad] });
      const input: RouteInput<Out<P>, Out<Q>, Out<B>> = {
        params: parse(spec.params, request.params, 'params') as Out<P>,
        query: parse(spec.query, request.query, 'query') as Out<Q>,
        body: parse(spec.body, request.body, 'body') as Out<B>,
        actor: request.actor as Actor,
        request,
        reply,
      };
      const result = await handler(input);
      if (reply.sent) return reply;
      if (successStatus === 204) return reply.status(204).send();
      const json = toJson(result);
      const body = spec.response ? spec.response.parse(json) : json;
      return reply.status(successStatus).send(body);
    },
  });
}

/**
 * Fields of multi-line text (email bodies, an event's description) may hold tab, line feed and carriage return;
 * everything else is one line. Other C0 controls, DEL and lone surrogates are refused everywhere: NUL cannot be
 * stored, and CR/LF in one-line fields is how headers and redirects get injected.
 */
const MULTILINE_FIELDS: ReadonlySet<string> = new Set(['bodyHtml', 'bodyText', 'description']);
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const CONTROL_ONE_LINE = /[\u0000-\u001F\u007F]/u;
// eslint-disable-next-line no-control-regex -- as above
const CONTROL_MULTILINE = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]/u;
const LONE_SURROGATE = /\p{Cs}/u;
/** A whole value that is an ISO-8601 date or date-time: its year must lie in 1970..9999 (PostgreSQL and JS agree there). */
const ISO_DATE = /^([+-]?\d{4,6})-\d{2}-\d{2}(?:[T ][\d:.]+(?:Z|[+-]\d{2}(?::?\d{2})?)?)?$/i;
export const MIN_INPUT_YEAR = 1970;
export const MAX_INPUT_YEAR = 9999;

export interface InputIssue {
  path: string;
  message: string;
}

/** The first string (or object key) of a request part that no route accepts, with where it is and why. */
export function badInput(value: unknown, path: string, field = ''): InputIssue | undefined {
  if (typeof value === 'string') {
    const control = MULTILINE_FIELDS.has(field) ? CONTROL_MULTILINE : CONTROL_ONE_LINE;
    if (control.test(value)) {
      return { path: path, message: MULTILINE_FIELDS.has(field) ? 'must not contain control characters such as NUL' : 'must not contain control characters such as NUL or line breaks' };
    }
    if (LONE_SURROGATE.test(value)) return { path: path, message: 'is not well-formed text' };
    const date = ISO_DATE.exec(value.trim());
    if (date) {
      const year = Number(date[1]);
      if (!(year >= MIN_INPUT_YEAR && year <= MAX_INPUT_YEAR)) return { path: path, message: `dates must lie in the years ${MIN_INPUT_YEAR} to ${MAX_INPUT_YEAR}` };
    }
    return undefined;
  }
  if (Array.isArray(value)) {
    for (const [i, item] of value.entries()) {
      const issue = badInput(item, `${path}.${i}`, field);
      if (issue) return issue;
    }
    return undefined;
  }
  if (value && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) {
      if (CONTROL_ONE_LINE.test(key) || LONE_SURROGATE.test(key)) return { path, message: 'a field name contains control characters' };
      const issue = badInput(item, `${path}.${key}`, key);
      if (issue) return issue;
    }
  }
  return undefined;
}

/** Dates become ISO-8601 strings, recursively: the wire format of every time field. */
export function toJson(value: unknown): unknown {
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return value.map(toJson);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toJson(v)]));
  }
  return value;
}

/**
 * Documents a route that is registered directly on Fastify because it does not speak JSON (redirects, HTML,
 * Prometheus text), so `/openapi.json` still lists every route the server answers.
 */
export function documentRawRoute(spec: { method: RegisteredRoute['method']; url: string; summary: string; tags: string[]; successStatus: number; params?: ZodType; query?: ZodType; auth?: AuthMode }): void {
  if (routeRegistry.some((r) => r.method === spec.method && r.url === spec.url)) return;
  routeRegistry.push({ auth: 'none', errors: [], ...spec });
}
