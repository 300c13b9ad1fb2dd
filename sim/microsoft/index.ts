import type { FastifyInstance } from 'fastify';
import type { SimState } from '../core/state.ts';
import { createContext, microsoftControlPlugin, microsoftServicePlugin, type MsRuntime } from './app.ts';
import { corePort } from './core-port.ts';

/**
 * The Microsoft 365 simulator: identity platform v2 and Graph v1.0 (`microsoftRoutes`, served under
 * `/microsoft`) and its control routes (`microsoftControlRoutes`, served under `/_sim/microsoft`). Both
 * plugins share one Microsoft context per SimState.
 */

const runtimes = new WeakMap<SimState, MsRuntime>();

export function microsoftRuntime(state: SimState): MsRuntime {
  let rt = runtimes.get(state);
  if (!rt) {
    rt = createContext(corePort(state));
    state.clock.onSet(() => rt!.tick());
    runtimes.set(state, rt);
  }
  return rt;
}

/**
 * Registered without a prefix (as `sim/server.ts` does) it mounts the services under `/microsoft` and the
 * control routes under `/_sim/microsoft`; registered with `{ prefix: '/microsoft' }` it mounts the services only.
 */
export function microsoftRoutes(state: SimState) {
  return async function microsoft(app: FastifyInstance): Promise<void> {
    const rt = microsoftRuntime(state);
    if (app.prefix.endsWith('/microsoft')) return microsoftServicePlugin(app, rt);
    await app.register(async (scoped) => microsoftServicePlugin(scoped, rt), { prefix: '/microsoft' });
    await app.register(async (scoped) => microsoftControlPlugin(scoped, rt), { prefix: '/_sim/microsoft' });
  };
}

/** Register with `{ prefix: '/_sim/microsoft' }`, `{ prefix: '/_sim' }` or no prefix: routes land under `/_sim/microsoft`. */
export function microsoftControlRoutes(state: SimState) {
  return async function microsoftControl(app: FastifyInstance): Promise<void> {
    const rt = microsoftRuntime(state);
    if (app.prefix.endsWith('/_sim/microsoft')) return microsoftControlPlugin(app, rt);
    const prefix = app.prefix.endsWith('/_sim') ? '/microsoft' : '/_sim/microsoft';
    await app.register(async (scoped) => microsoftControlPlugin(scoped, rt), { prefix });
  };
}

export type { MsRuntime };
