import type { FastifyInstance } from 'fastify';
import type { SimState } from '../core/state.ts';

export function googleRoutes(_state: SimState) {
  return async function plugin(_app: FastifyInstance): Promise<void> {};
}
