import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import { FAULT_KINDS, parseFaultPath } from './core/faults.ts';
import { usageWithRefusals } from './core/limits.ts';
import { MailError, parseFolder } from './core/mail.ts';
import type { SimState } from './core/state.ts';

/**
 * The simulators' control API (`/_sim`, API.md "Simulators' control API"). Every body is validated; a bad
 * one answers 400 `{error: {code: "validation_failed", message}}` naming the offending field.
 */

const provider = z.enum(['google', 'microsoft']);
const isoDate = z.string().refine((s) => !Number.isNaN(Date.parse(s)), 'must be an ISO-8601 date');
const addressLike = z.string().regex(/^[^@\s]+@[^@\s]+\.[^@\s]+$/, 'must be an email address');
const stringOrList = z.union([z.string(), z.array(z.string())]);

const tenantBody = z.strictObject({ provider, domain: z.string().min(1), grantedScopes: z.array(z.string()).optional() });
const tenantPut = z.strictObject({ grantedScopes: z.array(z.string()).nullable() });
const clientBody = z.strictObject({
  provider,
  clientId: z.string().min(1),
  clientSecret: z.string().min(1),
  redirectUris: z.array(z.string().url()).min(1),
});
const mailboxBody = z.strictObject({
  provider,
  address: addressLike,
  aliases: z.array(addressLike).optional(),
  password: z.string().optional(),
  displayName: z.string().optional(),
});
/**
 * `inbox`, `sent`, `spam`, `drafts`, `archive` (Outlook's Archive; Gmail archived: no INBOX label), or any other
 * name: a folder path the user made (`Projects/Hiring`; `Inbox/Hiring` is a sub-folder of the Inbox) or, on Gmail,
 * a user label of that name. Missing folders are made.
 */
const folderName = z
  .string()
  .min(1)
  .transform((text, ctx) => {
    const f = parseFolder(text);
    if (!f) ctx.addIssue({ code: 'custom', message: 'must name a folder' });
    return f ?? 'inbox';
  });
const moveBody = z.strictObject({ folder: folderName });
const messageBody = z
  .strictObject({
    raw: z.string().regex(/^[A-Za-z0-9+/=_\-\s]*$/, 'must be base64').optional(),
    from: z.string().optional(),
    to: stringOrList.optional(),
    cc: stringOrList.optional(),
    bcc: stringOrList.optional(),
    subject: z.string().optional(),
    text: z.string().optional(),
    html: z.string().optional(),
    date: isoDate.optional(),
    folder: folderName.refine((f) => f !== 'trash', 'mail cannot arrive in the trash').optional(),
    inReplyTo: z.string().optional(),
    references: stringOrList.optional(),
    threadKey: z.string().min(1).optional(),
  })
  .refine((b) => b.raw === undefined || (!b.from && !b.to && !b.subject && !b.text && !b.html), 'give either raw or composed fields, not both');
const bulkBody = z.strictObject({ messages: z.array(messageBody).max(5000) });
const clockBody = z.strictObject({ now: isoDate, frozen: z.boolean().optional() });
const positive = z.number().positive();
const googleLimits = z.strictObject({
  provider: z.literal('google'),
  perUserUnitsPerMinute: positive.optional(),
  concurrency: z.number().int().positive().optional(),
  units: z.record(z.string(), z.number().nonnegative()).optional(),
  historyRetentionSeconds: positive.optional(),
  watchExpirationSeconds: positive.optional(),
  pushIntervalMs: z.number().nonnegative().optional(),
  accessTokenLifetimeSeconds: positive.optional(),
  timeoutHangMs: z.number().nonnegative().optional(),
  batchLimit: z.number().int().positive().optional(),
  latencyMs: z.number().nonnegative().optional(),
});
const microsoftLimits = z
  .object({
    provider: z.literal('microsoft'),
    requestsPerWindow: positive.optional(),
    windowSeconds: positive.optional(),
    concurrency: z.number().int().positive().optional(),
  })
  .catchall(z.number());
const limitsBody = z.discriminatedUnion('provider', [googleLimits, microsoftLimits]);
const faultBody = z.strictObject({
  provider,
  match: z.strictObject({ method: z.string().optional(), path: z.string().optional() }).default({}),
  fault: z.enum(FAULT_KINDS as [string, ...string[]]),
  count: z.number().int().positive().optional(),
  retryAfterSeconds: z.number().int().nonnegative().optional(),
});
const pushBody = z.strictObject({ provider, enabled: z.boolean() });

function fail(reply: FastifyReply, status: number, code: string, message: string) {
  return reply.code(status).send({ error: { code, message } });
}

function parse<T>(schema: z.ZodType<T>, body: unknown, reply: FastifyReply): T | undefined {
  const r = schema.safeParse(body ?? {});
  if (r.success) return r.data;
  const message = r.error.issues.map((i) => `${i.path.length ? i.path.join('.') : 'body'}: ${i.message}`).join('; ');
  void fail(reply, 400, 'validation_failed', message);
  return undefined;
}

function mailError(reply: FastifyReply, e: unknown) {
  if (e instanceof MailError) {
    const status = e.code === 'mailbox_exists' ? 409 : e.code === 'invalid_message' ? 400 : 404;
    return fail(reply, status, e.code === 'mailbox_exists' ? 'conflict' : e.code === 'invalid_message' ? 'validation_failed' : 'not_found', e.message);
  }
  throw e;
}

/** Registers every `/_sim` route of API.md; mount with `{ prefix: '/_sim' }`. */
export function controlRoutes(state: SimState) {
  return async function plugin(app: FastifyInstance): Promise<void> {
    app.post('/tenants', async (req, reply) => {
      const b = parse(tenantBody, req.body, reply);
      if (!b) return reply;
      return reply.code(201).send(state.tenants.upsert({ provider: b.provider, domain: b.domain, grantedScopes: b.grantedScopes ?? null }));
    });
    app.get('/tenants', async () => state.tenants.list());
    app.put('/tenants/:domain', async (req, reply) => {
      const { domain } = req.params as { domain: string };
      const b = parse(tenantPut, req.body, reply);
      if (!b) return reply;
      const t = state.tenants.get(domain);
      if (!t) return fail(reply, 404, 'not_found', `no tenant ${domain}; create it with POST /_sim/tenants`);
      return state.tenants.upsert({ provider: t.provider, domain: t.domain, grantedScopes: b.grantedScopes });
    });

    app.post('/clients', async (req, reply) => {
      const b = parse(clientBody, req.body, reply);
      if (!b) return reply;
      const c = state.clients.register(b);
      return reply.code(201).send({ provider: c.provider, clientId: c.clientId, redirectUris: c.redirectUris });
    });

    app.post('/mailboxes', async (req, reply) => {
      const b = parse(mailboxBody, req.body, reply);
      if (!b) return reply;
      try {
        return reply.code(201).send(state.mail.createMailbox(b));
      } catch (e) {
        return mailError(reply, e);
      }
    });
    app.get('/mailboxes', async () =>
      state.mail.mailboxes().map((m) => ({ ...m, password: undefined, messages: state.mail.messages(m.address).length, historyId: String(state.mail.currentSeq(m.address)) })),
    );
    app.post('/mailboxes/:address/messages', async (req, reply) => {
      const { address } = req.params as { address: string };
      const b = parse(messageBody, req.body, reply);
      if (!b) return reply;
      try {
        return reply.code(201).send(await state.mail.deliver(address, b));
      } catch (e) {
        return mailError(reply, e);
      }
    });
    // Bulk delivery for remote loaders: same bodies as above, in order.
    app.post('/mailboxes/:address/messages/bulk', { bodyLimit: 512 * 1024 * 1024 }, async (req, reply) => {
      const { address } = req.params as { address: string };
      const b = parse(bulkBody, req.body, reply);
      if (!b) return reply;
      try {
        return reply.code(201).send(await state.mail.deliverMany(address, b.messages));
      } catch (e) {
        return mailError(reply, e);
      }
    });
    app.delete('/mailboxes/:address/messages/:id', async (req, reply) => {
      const { address, id } = req.params as { address: string; id: string };
      const mode = (req.query as { mode?: string }).mode ?? 'trash';
      if (mode !== 'trash' && mode !== 'permanent') return fail(reply, 400, 'validation_failed', 'mode: must be trash or permanent');
      try {
        if (mode === 'trash') state.mail.trash(address, id);
        else state.mail.deletePermanently(address, id);
        return { id, mode };
      } catch (e) {
        return mailError(reply, e);
      }
    });
    // The user files a message into another folder (or an Outlook rule does); the message keeps its id.
    app.post('/mailboxes/:address/messages/:id/move', async (req, reply) => {
      const { address, id } = req.params as { address: string; id: string };
      const b = parse(moveBody, req.body, reply);
      if (!b) return reply;
      try {
        const m = state.mail.move(address, id, b.folder);
        return { id: m.id, folder: m.folder };
      } catch (e) {
        return mailError(reply, e);
      }
    });
    app.get('/mailboxes/:address/sent', async (req, reply) => {
      const { address } = req.params as { address: string };
      try {
        return state.mail.sent(address);
      } catch (e) {
        return mailError(reply, e);
      }
    });

    app.post('/clock', async (req, reply) => {
      const b = parse(clockBody, req.body, reply);
      if (!b) return reply;
      if (b.frozen !== undefined) state.clock.setFrozen(b.frozen);
      state.clock.set(new Date(b.now));
      return { now: state.clock.now().toISOString(), frozen: state.clock.frozen };
    });
    app.get('/clock', async () => ({ now: state.clock.now().toISOString(), frozen: state.clock.frozen }));

    app.put('/limits', async (req, reply) => {
      const b = parse(limitsBody, req.body, reply);
      if (!b) return reply;
      if (b.provider === 'google') {
        const { provider: _p, units, ...rest } = b;
        const target = state.limits.google;
        Object.assign(target, Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined)));
        if (units) target.units = { ...target.units, ...units };
        return target;
      }
      const { provider: _p, ...rest } = b;
      Object.assign(state.limits.microsoft, Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined)));
      return state.limits.microsoft;
    });
    app.get('/limits', async () => state.limits);

    app.post('/faults', async (req, reply) => {
      const b = parse(faultBody, req.body, reply);
      if (!b) return reply;
      if (b.match.path) {
        try {
          parseFaultPath(b.match.path);
        } catch {
          return fail(reply, 400, 'validation_failed', 'match.path: invalid regular expression');
        }
      }
      const f = state.faults.add({ ...b, fault: b.fault as (typeof FAULT_KINDS)[number] });
      return reply.code(201).send(f);
    });
    app.get('/faults', async () => state.faults.active());
    app.delete('/faults', async (req) => {
      const p = (req.query as { provider?: string }).provider;
      state.faults.clear(p === 'google' || p === 'microsoft' ? p : undefined);
      return { cleared: true };
    });

    app.get('/usage', async () => usageWithRefusals(state.usage.snapshot(), state.quota));
    app.delete('/usage', async () => {
      state.usage.reset();
      state.quota.resetRefusals();
      return { cleared: true };
    });

    app.put('/push', async (req, reply) => {
      const b = parse(pushBody, req.body, reply);
      if (!b) return reply;
      state.push[b.provider] = b.enabled;
      return state.push;
    });

    app.get('/revocations', async () => state.revocations.snapshot());
  };
}
