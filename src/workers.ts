import type { Jobs } from './jobs/index.ts';
import type { Logger } from './logging.ts';
import { accessTokenFor, processTokenRevocations, REFRESH_AHEAD_MS } from './services/access-tokens.ts';
import type { MailboxDeps } from './services/mailbox-authorization.ts';
import { purgeInactiveThreads } from './sync/ingest/index.ts';
import type { LegacyWindow } from './domain/ingestion/index.ts';
import { registerSyncWorkers } from './sync/workers.ts';
import { registerPushWorkers, RENEW_EVERY_SECONDS } from './sync/push.ts';
import { processPushStops } from './services/push-stops.ts';
import { registerKeyRotation } from './services/key-rotation.ts';
import { registerSuspensionWorker } from './services/suspension.ts';

/**
 * What the worker role does: one handler per queue and the recurring schedules. Registered in every role
 * (the web role only runs them through test mode's drain), so `drain()` always has the full set.
 */
export async function registerWorkers(jobs: Jobs, deps: MailboxDeps, logger: Logger, options: { legacy?: LegacyWindow | undefined } = {}): Promise<void> {
  await registerSyncWorkers(jobs, { ...deps, mail: deps.providers.mail, legacy: options.legacy }, logger);

  registerPushWorkers(jobs, deps, logger);

  jobs.work('tokens.revoke', async () => {
    // push channels end before the tokens that could end them are revoked.
    const stops = await processPushStops(deps);
    if (stops.stopped || stops.failed) logger.info(stops, 'push channels of deauthorized grants ended');
    const result = await processTokenRevocations(deps);
    if (result.revoked || result.failed) logger.info(result, 'token revocations processed');
  });

  jobs.work('tokens.refresh', async () => {
    // Grants whose access token lapses soon: refresh now, so syncs and sends never wait on it.
    const soon = new Date(deps.clock.now().getTime() + 2 * REFRESH_AHEAD_MS);
    const due = await deps.db
      .selectFrom('mailbox_authorizations')
      .select('id')
      .where('state', '=', 'authorized')
      .where('access_token_expires_at', '<', soon)
      .limit(200)
      .execute();
    for (const grant of due) {
      try {
        await accessTokenFor(deps, grant.id);
      } catch (error) {
        // needs_reauthorization is recorded on the grant itself; other failures are retried next round.
        logger.warn({ authorizationId: grant.id, err: (error as Error).message }, 'token refresh failed');
      }
    }
  });

  jobs.work('retention.purge', async () => {
    // threads without activity for six calendar months leave the product (whether or not authorized).
    const result = await purgeInactiveThreads(deps.db, deps.clock.now());
    if (result.threads > 0) logger.info(result, 'inactive threads purged');
  });

  // a suspended contract's third-party data is deleted batch by batch; unfinished deletions resume at start.
  const resumed = await registerSuspensionWorker(jobs, deps);
  if (resumed > 0) logger.info({ resumed }, 'unfinished suspension deletions queued again');

  await jobs.schedule('retention.purge', { cron: '17 3 * * *' }, 'retention.purge', {});
  await jobs.schedule('tokens.revoke', { seconds: 300 }, 'tokens.revoke', {});
  await jobs.schedule('subscriptions.renew', { seconds: RENEW_EVERY_SECONDS }, 'subscriptions.renew', {});
  await jobs.schedule('tokens.refresh', { seconds: 300 }, 'tokens.refresh', {});
  // tokens sealed with a previous key are re-sealed in the background (hourly, and at start during a rotation).
  await registerKeyRotation(jobs, deps, logger);
}
