import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply } from 'fastify';

/** Where `vite build` puts the web UI (see vite.config.ts). */
export const WEB_DIST = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../dist/web');

/**
 * Serves the built React UI from the same server as the API, with the single-page-app fallback: any GET
 * that is not an API, OAuth, webhook or test route gets index.html. Without a build, the API still runs.
 */
export async function webRoutes(app: FastifyInstance, distDir = WEB_DIST): Promise<void> {
  const index = path.join(distDir, 'index.html');
  if (!fs.existsSync(index)) {
    app.log.warn({ distDir }, 'web UI not built (npm run build): serving the API only');
    return;
  }
  await app.register(fastifyStatic, { root: distDir, prefix: '/', wildcard: false, index: false, cacheControl: true, maxAge: '1h' });
  const html = fs.readFileSync(index, 'utf8');
  const serveIndex = async (_request: unknown, reply: FastifyReply) =>
    reply
      .type('text/html; charset=utf-8')
      .header('cache-control', 'no-cache')
      .header('content-security-policy', "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; frame-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'")
      .send(html);
  app.get('/', serveIndex);
  app.get('/*', async (request, reply) => {
    const url = request.url.split('?')[0] ?? '';
    if (/^\/(api|oauth|webhooks|_test|openapi\.json|healthz|metrics)(\/|$)/.test(url)) {
      return reply.status(404).send({ error: { code: 'not_found', message: `No route ${request.method} ${url}` } });
    }
    if (path.extname(url)) return reply.status(404).send({ error: { code: 'not_found', message: 'No such file' } });
    return serveIndex(request, reply);
  });
}
