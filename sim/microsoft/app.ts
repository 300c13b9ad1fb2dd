import { randomBytes } from 'node:crypto';
import { parse as parseQuery } from 'node:querystring';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { MsContext } from './context.ts';
import { GraphError, aadErrorBody, graphErrorBody } from './errors.ts';
import { dispatch, faultResponse, type GraphRequest, type GraphResponse } from './graph.ts';
import { registerIdentityRoutes, revokeUserSessions } from './identity.ts';
import { newGuid } from './ids.ts';
import type { MsCorePort } from './port.ts';
import { DEFAULT_CONFIG, MicrosoftState, type MsConfig } from './state.ts';
import { Notifier, subscriptionJson, type LifecycleEvent } from './subscriptions.ts';

/**
 * The Microsoft simulator as two Fastify plugins over one context: the services (identity platform v2 and
 * Graph v1.0, mounted under `/microsoft`) and its control routes (mounted under `/_sim/microsoft`).
 */

export interface MsRuntime extends MsContext {
  notifier: Notifier;
}

export function createContext(core: MsCorePort): MsRuntime {
  const ms = new MicrosoftState(randomBytes(32));
  const rt = {
    core,
    ms,
    tick: () => rt.notifier.tick(),
    onSessionsRevoked: (address: string) => rt.notifier.sessionsRevoked(address),
    onEventChange: (address, type, ev) => rt.notifier.onEventChange(address, type, ev.id, ev.changeKey),
  } as MsRuntime;
  rt.notifier = new Notifier(rt);
  core.onChange((address, change) => rt.notifier.onMailChange(address, change));
  return rt;
}

function addFormParser(app: FastifyInstance): void {
  if (!app.hasContentTypeParser('application/x-www-form-urlencoded')) {
    app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => {
      const parsed = parseQuery(String(body));
      const flat: Record<string, string> = {};
      for (const [k, v] of Object.entries(parsed)) flat[k] = Array.isArray(v) ? (v[0] ?? '') : (v ?? '');
      done(null, flat);
    });
  }
}

function sendGraph(reply: FastifyReply, res: GraphResponse): FastifyReply {
  for (const [k, v] of Object.entries(res.headers)) reply.header(k, v);
  reply.code(res.status);
  if (res.body === null || res.body === undefined) return reply.send();
  return reply.send(Buffer.isBuffer(res.body) || typeof res.body === 'string' ? res.body : JSON.stringify(res.body));
}

function baseOf(req: FastifyRequest): string {
  const path = req.url.split('?')[0]!;
  const i = path.indexOf('/v1.0');
  return `${req.protocol}://${req.host}${i >= 0 ? path.slice(0, i) : ''}/v1.0`;
}

function lowerHeaders(h: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) if (v !== undefined) out[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : String(v);
  return out;
}

/** Services: mount with `{ prefix: '/microsoft' }`. */
export async function microsoftServicePlugin(app: FastifyInstance, rt: MsRuntime): Promise<void> {
  addFormParser(app);
  const timer = setInterval(() => rt.tick(), 1000);
  timer.unref();
  app.addHook('onClose', async () => {
    clearInterval(timer);
    await rt.notifier.idle();
  });

  app.setErrorHandler((err: Error & { statusCode?: number }, req, reply) => {
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    if (req.url.includes('/oauth2/')) {
      return reply.code(status).send(aadErrorBody({ status, error: 'invalid_request', aadsts: 900144, description: err.message }, rt.core.now()));
    }
    const id = newGuid();
    return reply.code(status).send(graphErrorBody(status === 500 ? 'InternalServerError' : 'BadRequest', status === 500 ? 'An internal server error occurred.' : err.message, rt.core.now(), id, id));
  });

  // Injected faults apply to every Microsoft request; cursor_expired and invalid_grant are left to the
  // routes they concern.
  app.addHook('onRequest', async (req, reply) => {
    const fault = rt.core.takeFault(req.method, req.url, ['http_400', 'http_429', 'http_500', 'http_503', 'timeout', 'reset']);
    if (!fault) return;
    if (fault.fault === 'reset') {
      reply.hijack();
      const socket = req.raw.socket as { destroy?: () => void } | undefined;
      if (socket?.destroy) socket.destroy();
      else reply.raw.destroy();
      return reply;
    }
    if (fault.fault === 'timeout') {
      await new Promise((r) => setTimeout(r, rt.ms.config.faultHangMs));
      const id = newGuid();
      return reply.code(504).send(graphErrorBody('GatewayTimeout', 'The operation has timed out.', rt.core.now(), id, id));
    }
    const f = faultResponse(fault.fault, fault.retryAfterSeconds);
    if (f) {
      if (req.url.includes('/oauth2/')) {
        for (const [k, v] of Object.entries(f.headers)) reply.header(k, v);
        return reply.code(f.status).send(aadErrorBody({ status: f.status, error: 'temporarily_unavailable', aadsts: 50196, description: 'The server is temporarily unavailable.' }, rt.core.now()));
      }
      const id = newGuid();
      for (const [k, v] of Object.entries(f.headers)) reply.header(k, v);
      return reply.code(f.status).send(graphErrorBody(f.code, f.message, rt.core.now(), id, id));
    }
  });

  registerIdentityRoutes(app, rt);

  app.route({
    method: ['GET', 'POST', 'PATCH', 'PUT', 'DELETE'],
    url: '/v1.0/*',
    handler: async (req, reply) => {
      const [path, qs] = splitUrl(req.url);
      const below = path.slice(path.indexOf('/v1.0') + 5) || '/';
      const graphReq: GraphRequest = {
        method: req.method,
        path: below,
        query: new URLSearchParams(qs),
        headers: lowerHeaders(req.headers),
        body: req.body,
        base: baseOf(req),
        inner: false,
      };
      if (below === '/$batch' && req.method === 'POST') return sendGraph(reply, await batch(rt, graphReq));
      return sendGraph(reply, await dispatch(rt, graphReq));
    },
  });
}

function splitUrl(url: string): [string, string] {
  const i = url.indexOf('?');
  return i >= 0 ? [url.slice(0, i), url.slice(i + 1)] : [url, ''];
}

// ---------------------------------------------------------------- JSON batching

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

async function batch(rt: MsRuntime, outer: GraphRequest): Promise<GraphResponse> {
  const now = rt.core.now();
  const id = newGuid();
  const bad = (message: string): GraphResponse => ({ status: 400, headers: { 'content-type': 'application/json' }, body: graphErrorBody('BadRequest', message, now, id, id) });
  const auth = outer.headers['authorization'];
  const token = auth ? rt.ms.accessTokens.get(auth.replace(/^Bearer\s+/i, '')) : undefined;
  if (!token || token.revoked || token.expiresAt.getTime() <= now.getTime()) {
    return { status: 401, headers: { 'content-type': 'application/json' }, body: graphErrorBody('InvalidAuthenticationToken', auth ? 'Lifetime validation failed, the token is expired.' : 'Access token is empty.', now, id, id) };
  }
  if (!isObj(outer.body) || !Array.isArray(outer.body.requests)) return bad('Invalid batch payload format.');
  const requests = outer.body.requests as unknown[];
  if (requests.length === 0) return bad('Invalid batch payload format.');
  if (requests.length > rt.ms.config.batchLimit) return bad(`Number of requests in the batch exceeds the limit of ${rt.ms.config.batchLimit}.`);
  const ids = new Set<string>();
  for (const r of requests) {
    if (!isObj(r) || typeof r.id !== 'string' || typeof r.method !== 'string' || typeof r.url !== 'string') return bad('Each request in a batch must have an id, a method and a url.');
    if (ids.has(r.id)) return bad(`Request id '${r.id}' is used more than once.`);
    ids.add(r.id);
  }
  for (const r of requests as Obj[]) {
    for (const dep of Array.isArray(r.dependsOn) ? r.dependsOn : []) {
      if (typeof dep !== 'string' || !ids.has(dep)) return bad(`Request '${String(r.id)}' depends on an unknown request '${String(dep)}'.`);
    }
  }
  rt.core.countRequest(token.address, 'batch', 0);
  const results = new Map<string, GraphResponse>();
  const done = new Set<string>();
  const order: Obj[] = [];
  // Dependencies first; otherwise the order given (each request once; cycles are refused).
  const visit = (r: Obj, stack: Set<string>): boolean => {
    const rid = r.id as string;
    if (done.has(rid)) return true;
    if (stack.has(rid)) return false;
    stack.add(rid);
    for (const dep of (Array.isArray(r.dependsOn) ? r.dependsOn : []) as string[]) {
      if (!visit((requests as Obj[]).find((x) => x.id === dep)!, stack)) return false;
    }
    stack.delete(rid);
    done.add(rid);
    order.push(r);
    return true;
  };
  for (const r of requests as Obj[]) if (!visit(r, new Set())) return bad('The dependsOn graph of the batch has a cycle.');
  for (const r of order) {
    const rid = r.id as string;
    const deps = (Array.isArray(r.dependsOn) ? r.dependsOn : []) as string[];
    if (deps.some((d) => (results.get(d)?.status ?? 500) >= 400)) {
      results.set(rid, { status: 424, headers: { 'content-type': 'application/json' }, body: graphErrorBody('FailedDependency', 'The dependent request failed.', now, newGuid(), newGuid()) });
      continue;
    }
    let url = String(r.url);
    if (/^https?:/i.test(url)) {
      results.set(rid, { status: 400, headers: { 'content-type': 'application/json' }, body: graphErrorBody('BadRequest', 'Batch request URLs must be relative.', now, newGuid(), newGuid()) });
      continue;
    }
    url = url.startsWith('/') ? url : `/${url}`;
    const [p, q] = splitUrl(url);
    const headers = { ...(isObj(r.headers) ? lowerHeaders(r.headers) : {}), authorization: auth! };
    const res = await dispatch(rt, { method: r.method as string, path: p, query: new URLSearchParams(q), headers, body: r.body, base: outer.base, inner: true });
    results.set(rid, res);
  }
  const responses = (requests as Obj[]).map((r) => {
    const res = results.get(r.id as string)!;
    const out: Obj = { id: r.id, status: res.status, headers: res.headers };
    if (res.body !== null && res.body !== undefined) out.body = Buffer.isBuffer(res.body) ? res.body.toString('base64') : res.body;
    return out;
  });
  return { status: 200, headers: { 'content-type': 'application/json' }, body: { responses } };
}

// ---------------------------------------------------------------- control routes

const LIFECYCLE: LifecycleEvent[] = ['reauthorizationRequired', 'subscriptionRemoved', 'missed'];

/** Control routes: mount with `{ prefix: '/_sim/microsoft' }`. */
export async function microsoftControlPlugin(app: FastifyInstance, rt: MsRuntime): Promise<void> {
  app.get('/subscriptions', async () => [...rt.ms.subscriptions.values()].map((s) => ({ ...subscriptionJson(s), address: s.address, needsReauthorization: s.needsReauthorization })));
  app.post('/subscriptions/:id/lifecycle', async (req, reply) => {
    const { id } = req.params as { id: string };
    const event = (req.body as { event?: string } | undefined)?.event as LifecycleEvent | undefined;
    const s = rt.ms.subscriptions.get(id);
    if (!s) return reply.code(404).send({ error: { code: 'not_found', message: `No subscription ${id}` } });
    if (!event || !LIFECYCLE.includes(event)) return reply.code(400).send({ error: { code: 'validation_failed', message: `event must be one of ${LIFECYCLE.join(', ')}` } });
    if (event === 'subscriptionRemoved') rt.notifier.removeSubscription(s);
    else {
      if (event === 'reauthorizationRequired') s.needsReauthorization = true;
      rt.notifier.lifecycle(s, event);
    }
    await rt.notifier.idle();
    return { ok: true };
  });
  app.post('/users/:address/revoke-sessions', async (req) => {
    const { address } = req.params as { address: string };
    const n = revokeUserSessions(rt, address);
    rt.core.recordRevocation(address, { kind: 'token', id: `revokeSignInSessions:${newGuid()}`, at: rt.core.now(), detail: `${n} refresh token(s)` });
    rt.notifier.sessionsRevoked(address);
    await rt.notifier.idle();
    return { revokedRefreshTokens: n };
  });
  app.get('/deliveries', async () => rt.ms.deliveries);
  app.post('/flush', async () => {
    rt.tick();
    await rt.notifier.idle();
    return { ok: true };
  });
  app.get('/events', async (req) => {
    const address = ((req.query as { address?: string }).address ?? '').toLowerCase();
    return [...rt.ms.events.values()].filter((e) => !address || e.address.toLowerCase() === address).map((e) => ({ id: e.id, address: e.address, ...e.body }));
  });
  app.get('/config', async () => rt.ms.config);
  app.put('/config', async (req, reply) => {
    const body = (req.body ?? {}) as Partial<Record<keyof MsConfig, unknown>>;
    for (const [k, v] of Object.entries(body)) {
      if (!(k in DEFAULT_CONFIG) || typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
        return reply.code(400).send({ error: { code: 'validation_failed', message: `Unknown or invalid setting '${k}'` } });
      }
    }
    Object.assign(rt.ms.config, body);
    rt.ms.lifecycleDueAt = -Infinity;
    return rt.ms.config;
  });
}

export { GraphError };
