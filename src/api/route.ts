import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { z} from 'zod';
import { type ZodType } from 'zod';
import type { Actor } from '../services/actors.ts';
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
