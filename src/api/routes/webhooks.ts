import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z, ZodError } from 'zod';
import { AppError } from '../../errors.ts';
import type { Jobs } from '../../jobs/index.ts';
import { decodePubSubPush } from '../../providers/google/pubsub.ts';
import { WEBHOOK_PATHS } from '../../providers/mail.ts';
import { decodeGraphNotifications } from '../../providers/microsoft/notifications.ts';
import { PushAuthError, type PushNotice } from '../../providers/push.ts';
import type { ProviderRegistry } from '../../providers/registry.ts';
import type { ServiceContext } from '../../services/context.ts';
import { receivePushNotices, type NoticeOutcome } from '../../sync/push.ts';
import { documentRawRoute } from '../route.ts';
import { zodToAppError } from '../errors.ts';

/** A Gmail notification is a few hundred bytes; Graph posts up to a hundred or so notifications at once. */
const PUBSUB_BODY_LIMIT = 64 * 1024;
const GRAPH_BODY_LIMIT = 1024 * 1024;
const VALIDATION_TOKEN_LIMIT = 4096;

const ValidationQuery = z.object({ validationToken: z.string().min(1).max(VALIDATION_TOKEN_LIMIT).optional() });

/**
 * API.md "Provider webhooks": no session, each authenticated the provider's way. They only enqueue work
 * (a sync, a channel renewal) and answer at once, as both providers expect.
 */
export function webhookRoutes(app: FastifyInstance, deps: ServiceContext & { providers: ProviderRegistry }, jobs: Pick<Jobs, 'send'> | undefined): void {
  const tags = ['Provider webhooks'];
  const receive = async (request: FastifyRequest, notices: PushNotice[]): Promise<NoticeOutcome> => {
    if (!jobs) throw new AppError('provider_unavailable', 'This process does not take notifications: no job queue.');
    const outcome = await receivePushNotices(deps, jobs, notices);
    // Counts only: a notification's addresses and ids stay out of the logs.
    if (outcome.unknown || outcome.rejected) request.log.warn({ push: outcome }, 'push notifications for no known channel, or with a wrong secret, ignored');
    else request.log.debug({ push: outcome }, 'push notifications received');
    return outcome;
  };

  documentRawRoute({
    method: 'POST', url: WEBHOOK_PATHS.googlePubSub, tags, successStatus: 204,
    summary:
      'Gmail watch notifications pushed by a Pub/Sub push subscription: `Authorization: Bearer <OIDC token>` (RS256 by Google, ' +
      'iss accounts.google.com, aud GOOGLE_PUBSUB_AUDIENCE or this URL, optionally the configured service account), body ' +
      '`{message: {data: base64 {emailAddress, historyId}}, subscription}`. 204 once the mailbox sync is queued, or for an address ' +
      'no grant watches (acknowledged so that Pub/Sub stops retrying); 401 without a valid token, 403 for a token meant for ' +
      'another audience or account, 400 for a body that is no Gmail notification.',
  });
  app.post(WEBHOOK_PATHS.googlePubSub, { bodyLimit: PUBSUB_BODY_LIMIT, config: { auth: 'none' } }, async (request, reply) => {
    const verifier = deps.providers.pubsub;
    if (!verifier) throw new AppError('provider_unavailable', 'Gmail push is not configured: set PUBLIC_URL or GOOGLE_PUBSUB_AUDIENCE.');
    try {
      await verifier.verify(request.headers.authorization);
    } catch (error) {
      if (!(error instanceof PushAuthError)) throw error;
      request.log.warn({ status: error.status, reason: error.message }, 'Pub/Sub push refused');
      const code = error.status === 401 ? 'unauthenticated' : error.status === 403 ? 'forbidden' : 'provider_unavailable';
      throw new AppError(code, `Pub/Sub push refused: ${error.message}.`);
    }
    let notice: PushNotice;
    try {
      notice = decodePubSubPush(request.body);
    } catch (error) {
      if (error instanceof ZodError) throw zodToAppError(error, 'body');
      throw error;
    }
    await receive(request, [notice]);
    return reply.status(204).send();
  });

  for (const [url, kind] of [
    [WEBHOOK_PATHS.microsoftNotifications, 'change'],
    [WEBHOOK_PATHS.microsoftLifecycle, 'lifecycle'],
  ] as const) {
    documentRawRoute({
      method: 'POST', url, tags, successStatus: 202,
      query: ValidationQuery,
      summary:
        (kind === 'change' ? 'Microsoft Graph change notifications' : 'Microsoft Graph lifecycle notifications (reauthorizationRequired → renewed, subscriptionRemoved → created again, missed → a sync)') +
        ': with `?validationToken=` (the subscription handshake) the token is echoed as text/plain with 200; otherwise the body ' +
        '`{value: [{subscriptionId, clientState, …}]}` is checked item by item against the subscription and its clientState, and ' +
        'answered 202 at once — an item with a wrong clientState or an unknown subscription is ignored. 400 for a body that is no ' +
        'notification collection.',
    });
    app.post(url, { bodyLimit: GRAPH_BODY_LIMIT, config: { auth: 'none' } }, async (request, reply) => {
      const query = ValidationQuery.safeParse(request.query ?? {});
      if (!query.success) throw zodToAppError(query.error, 'query');
      if (query.data.validationToken !== undefined) {
        // Graph checks that the endpoint is ours by reading its own token back, unchanged, as plain text.
        return reply.status(200).header('x-content-type-options', 'nosniff').type('text/plain; charset=utf-8').send(query.data.validationToken);
      }
      let decoded: ReturnType<typeof decodeGraphNotifications>;
      try {
        decoded = decodeGraphNotifications(kind, request.body);
      } catch (error) {
        if (error instanceof ZodError) throw zodToAppError(error, 'body');
        throw error;
      }
      if (decoded.unreadable > 0) request.log.warn({ unreadable: decoded.unreadable }, 'Graph notifications the product cannot read, ignored');
      await receive(request, decoded.notices);
      return reply.status(202).send();
    });
  }
}
