import type { FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import type { ServiceContext } from '../../services/context.ts';
import type { Metrics } from '../metrics.ts';
import { documentRawRoute } from '../route.ts';

/** Liveness, Prometheus metrics and the OpenAPI document: no authentication, no tenant data. */
export function systemRoutes(app: FastifyInstance, ctx: ServiceContext, metrics: Metrics, openapi: () => Record<string, unknown>): void {
  const tags = ['Operations'];
  documentRawRoute({ method: 'GET', url: '/healthz', tags, successStatus: 200, summary: 'Liveness and database reachability: {status: "ok"} or 503' });
  documentRawRoute({ method: 'GET', url: '/metrics', tags, successStatus: 200, summary: 'Prometheus metrics (text exposition format)' });
  documentRawRoute({ method: 'GET', url: '/openapi.json', tags, successStatus: 200, summary: 'This document' });
  app.get('/healthz', async (_request, reply) => {
    try {
      await sql`SELECT 1`.execute(ctx.db);
      return { status: 'ok', time: ctx.clock.now().toISOString() };
    } catch {
      return reply.status(503).send({ status: 'unavailable', reason: 'database unreachable' });
    }
  });
  app.get('/metrics', async (_request, reply) => {
    reply.header('content-type', metrics.registry.contentType);
    return metrics.registry.metrics();
  });
  app.get('/openapi.json', async () => openapi());
}
