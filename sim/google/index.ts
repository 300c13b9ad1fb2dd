import { parse as parseQuery } from 'node:querystring';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { SimState } from '../core/state.ts';
import { runBatch } from './batch.ts';
import { GoogleApiError } from './errors.ts';
import { dispatch, faultError, type GResponse } from './gmail.ts';
import { registerOAuthRoutes, type GoogleCtx } from './oauth.ts';
import { onMailChange, stopPushTimers } from './push.ts';
import { GoogleState } from './state.ts';

/**
 * The Google simulator: OAuth 2.0, Gmail API v1 (with history, watch/Pub/Sub push and batch) and Calendar v3
 * events below `/google`, and its control routes below `/_sim/google`. Register without a prefix.
 */

function sendG(reply: FastifyReply, res: GResponse): FastifyReply {
  for (const [k, v] of Object.entries(res.headers)) reply.header(k, v);
  reply.code(res.status);
  if (res.body === null || res.body === undefined) return reply.send();
  return reply.send(typeof res.body === 'string' || Buffer.isBuffer(res.body) ? res.body : JSON.stringify(res.body));
}

function sendError(reply: FastifyReply, e: GoogleApiError): FastifyReply {
  return sendG(reply, { status: e.code, headers: { 'content-type': 'application/json; charset=UTF-8', ...(e.extra.headers ?? {}) }, body: e.body() });
}

const subscriptionBody = z.strictObject({
  topicName: z.string().regex(/^projects\/[^/]+\/topics\/[^/]+$/, 'must look like projects/{project}/topics/{topic}'),
  pushEndpoint: z.string().url(),
  audience: z.string().min(1).optional(),
  serviceAccountEmail: z.string().email().optional(),
  name: z.string().regex(/^projects\/[^/]+\/subscriptions\/[^/]+$/).optional(),
});

export function googleRoutes(state: SimState) {
  return async function plugin(app: FastifyInstance): Promise<void> {
    const ctx: GoogleCtx = { state, g: await GoogleState.create() };
    state.mail.onChange((address, change, message) => onMailChange(ctx, address, change, message.flags.unread));
    app.addHook('onClose', async () => stopPushTimers(ctx));

    await app.register(
      async (api) => {
        api.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => done(null, parseQuery(String(body))));
        api.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

        // Injected faults (POST /_sim/faults) that any Google request can meet.
        api.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
          const path = req.url.replace(/^\/google/, '');
          const fault = state.faults.take('google', req.method, path, ['http_400', 'http_429', 'http_500', 'http_503', 'timeout', 'reset']);
          if (!fault) return;
          if (fault.fault === 'reset') {
            reply.hijack();
            req.raw.socket?.destroy();
            return reply;
          }
          if (fault.fault === 'timeout') {
            // Hang until the client gives up (bounded), then drop the connection without an answer.
            reply.hijack();
            await new Promise<void>((resolve) => {
              const t = setTimeout(resolve, state.limits.google.timeoutHangMs);
              t.unref();
              req.raw.socket?.once('close', () => {
                clearTimeout(t);
                resolve();
              });
            });
            req.raw.socket?.destroy();
            return reply;
          }
          return sendError(reply, faultError(fault)!);
        });

        registerOAuthRoutes(api, ctx);

        const apiHandler = async (req: FastifyRequest, reply: FastifyReply) => {
          const u = new URL(req.url, 'http://sim');
          const res = await dispatch(ctx, {
            method: req.method,
            path: u.pathname.replace(/^\/google/, ''),
            query: u.searchParams,
            headers: Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : (v ?? '')])),
            body: req.body,
            inBatch: false,
          });
          return sendG(reply, res);
        };
        api.all('/gmail/*', apiHandler);
        api.all('/upload/gmail/*', apiHandler);
        api.all('/calendar/*', apiHandler);
        api.post('/batch/gmail/v1', async (req, reply) => {
          const body = Buffer.isBuffer(req.body) ? req.body : Buffer.from(typeof req.body === 'string' ? req.body : '');
          const res = await runBatch(ctx, body, req.headers['content-type'] ?? '', req.headers.authorization);
          if (res instanceof GoogleApiError) return sendError(reply, res);
          return reply.code(res.status).header('content-type', res.contentType).send(res.body);
        });
      },
      { prefix: '/google' },
    );

    await app.register(
      async (ctl) => {
        ctl.post('/pubsub-subscriptions', async (req, reply) => {
          const r = subscriptionBody.safeParse(req.body ?? {});
          if (!r.success) {
            return reply.code(400).send({ error: { code: 'validation_failed', message: r.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ') } });
          }
          const project = r.data.topicName.split('/')[1]!;
          const sub = {
            name: r.data.name ?? `projects/${project}/subscriptions/sim-push-${ctx.g.subscriptions.length + 1}`,
            topicName: r.data.topicName,
            pushEndpoint: r.data.pushEndpoint,
            audience: r.data.audience ?? null,
            serviceAccountEmail: r.data.serviceAccountEmail ?? `pubsub-push@${project}.iam.gserviceaccount.com`,
          };
          ctx.g.subscriptions.push(sub);
          return reply.code(201).send(sub);
        });
        ctl.get('/pubsub-subscriptions', async () => ctx.g.subscriptions);
        ctl.get('/pushes', async () => ctx.g.pushes);
        ctl.get('/watches', async () => [...ctx.g.watches.values()].map((w) => ({ ...w, historyId: String(w.historyId), expiration: String(w.expiration.getTime()) })));
        ctl.get('/calendar-events', async () => [...ctx.g.events.values()].map((e) => ({ address: e.address, sendUpdates: e.sendUpdates, event: e.json })));
      },
      { prefix: '/_sim/google' },
    );
  };
}
