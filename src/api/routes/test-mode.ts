import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { AdjustableClock} from '../../clock.ts';
import { ClockMovedBackwardsError } from '../../clock.ts';
import { AppError } from '../../errors.ts';
import { defineRoute } from '../route.ts';

export interface JobDrainer {
  drain(): Promise<number>;
}

/** API.md "Test mode": only registered with RECRUITER_SYNC_TEST_MODE=1. */
export function testModeRoutes(app: FastifyInstance, clock: AdjustableClock, jobs: JobDrainer): void {
  const tags = ['Test mode'];
  const ClockView = z.object({ now: z.iso.datetime({ offset: true }) });
  defineRoute(
    app,
    { method: 'GET', url: '/_test/clock', summary: "The product's clock", tags, auth: 'none', response: ClockView },
    async () => ({ now: clock.now().toISOString() }),
  );
  defineRoute(
    app,
    {
      method: 'POST', url: '/_test/clock', summary: "Set the product's clock (only forward)", tags, auth: 'none',
      body: z.strictObject({ now: z.iso.datetime({ offset: true }) }), response: ClockView, successStatus: 200,
    },
    async ({ body }) => {
      try {
        clock.set(new Date(body.now));
      } catch (error) {
        if (error instanceof ClockMovedBackwardsError) throw new AppError('validation_failed', error.message);
        throw error;
      }
      return { now: clock.now().toISOString() };
    },
  );
  defineRoute(
    app,
    { method: 'POST', url: '/_test/jobs/drain', summary: 'Run every due job until none is left', tags, auth: 'none', response: z.object({ ran: z.number().int() }), successStatus: 200 },
    async () => ({ ran: await jobs.drain() }),
  );
}
