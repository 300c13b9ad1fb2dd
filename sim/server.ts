import Fastify, { type FastifyInstance } from 'fastify';
import { controlRoutes } from './control.ts';
import { createSimState, type SimState } from './core/state.ts';
import { googleRoutes } from './google/index.ts';
import { microsoftRoutes } from './microsoft/index.ts';

/**
 * One Fastify app serving Google under `/google`, Microsoft under `/microsoft` and the control API under
 * `/_sim`. Each provider plugin is registered without a prefix and mounts its own service and `/_sim/<provider>`
 * control routes.
 */
export function buildSimApp(state: SimState): FastifyInstance {
  const app = Fastify({ logger: false, bodyLimit: 64 * 1024 * 1024, forceCloseConnections: true });
  app.register(controlRoutes(state), { prefix: '/_sim' });
  app.register(googleRoutes(state));
  app.register(microsoftRoutes(state));
  return app;
}

/**
 * Starts both simulators. With `now` the simulators' clock starts frozen at that instant (tests move it with
 * `POST /_sim/clock`); without, it follows real time.
 */
export async function startSimulators(opts: { port?: number; host?: string; now?: Date; state?: SimState } = {}): Promise<{ url: string; state: SimState; app: FastifyInstance; close(): Promise<void> }> {
  const state = opts.state ?? createSimState(opts.now ? { now: opts.now } : {});
  const app = buildSimApp(state);
  const host = opts.host ?? '127.0.0.1';
  await app.listen({ port: opts.port ?? 4000, host });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : (opts.port ?? 4000);
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  return { url, state, app, close: () => app.close() };
}
