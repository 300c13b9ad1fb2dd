import { z, type ZodType } from 'zod';
import { STATUS_OF } from './errors.ts';
import type { RegisteredRoute } from './route.ts';
import { ErrorBody } from './schemas.ts';

/** Builds the OpenAPI 3.1 document from the same zod schemas the routes validate with. */
export function buildOpenApi(routes: RegisteredRoute[], info: { version: string; serverUrl: string }): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  const jsonSchema = (schema: ZodType, io: 'input' | 'output') =>
    z.toJSONSchema(schema, { io, target: 'openapi-3.0', unrepresentable: 'any' }) as Record<string, unknown>;

  for (const route of routes) {
    const operation: Record<string, unknown> = {
      summary: route.summary,
      tags: route.tags,
      operationId: `${route.method.toLowerCase()}${route.url.replace(/[{}]/g, '').replace(/[^a-zA-Z0-9]+(.)?/g, (_m, c: string | undefined) => (c ? c.toUpperCase() : ''))}`,
    };
    const parameters: unknown[] = [];
    for (const [where, schema] of [['path', route.params], ['query', route.query]] as const) {
      if (!schema) continue;
      const js = jsonSchema(schema, 'input') as { properties?: Record<string, unknown>; required?: string[] };
      for (const [name, prop] of Object.entries(js.properties ?? {})) {
        parameters.push({ name, in: where, required: where === 'path' || (js.required ?? []).includes(name), schema: prop });
      }
    }
    if (parameters.length > 0) operation.parameters = parameters;
    if (route.body) operation.requestBody = { required: true, content: { 'application/json': { schema: jsonSchema(route.body, 'input') } } };
    const responses: Record<string, unknown> = {};
    responses[String(route.successStatus)] =
      route.successStatus === 204 || !route.response
        ? { description: 'Done' }
        : { description: 'Success', content: { 'application/json': { schema: jsonSchema(route.response, 'output') } } };
    const codes = new Set(['validation_failed', 'internal', ...(route.auth === 'caller' ? ['unauthenticated', 'forbidden', 'not_found'] : []), ...route.errors]);
    const byStatus = new Map<number, string[]>();
    for (const code of codes) {
      const status = STATUS_OF[code as keyof typeof STATUS_OF] ?? 400;
      byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
    }
    for (const [status, list] of byStatus) {
      responses[String(status)] = { description: `Error: ${list.join(', ')}`, content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } };
    }
    operation.responses = responses;
    if (route.auth === 'caller') operation.security = [{ bearer: [] }, { session: [] }];
    const path = (paths[route.url] ??= {});
    path[route.method.toLowerCase()] = operation;
  }

  return {
    openapi: '3.1.0',
    info: {
      title: 'recruiter-sync API',
      version: info.version,
      description:
        'Email and calendar integration of the recruiting product. Errors carry {error: {code, message}}. ' +
        'Integrations send `Authorization: Bearer <token>` and may act as a user with `X-Act-As-User` (each use ' +
        'is audited, with the optional `X-Act-As-Reason`: one printable line of at most 200 characters); browser ' +
        'sessions use the `rs_session` cookie and send `X-CSRF-Token` on state-changing requests.',
    },
    servers: [{ url: info.serverUrl }],
    paths,
    components: {
      schemas: { Error: jsonSchema(ErrorBody, 'output') },
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'System or contract integration token' },
        session: { type: 'apiKey', in: 'cookie', name: 'rs_session' },
      },
    },
  };
}
