import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProviderError } from '../../src/providers/errors.ts';
import { providerFetch } from '../../src/providers/http.ts';

/** An 8-bit ISO-8859-1 MIME message ("Grüße, José"): not valid UTF-8, so a text round trip would mangle it. */
const latin1Mime = Buffer.concat([
  Buffer.from('From: jose@example.com\r\nTo: rita@acme.test\r\nSubject: Hola\r\nContent-Type: text/plain; charset=ISO-8859-1\r\nContent-Transfer-Encoding: 8bit\r\n\r\n'),
  Buffer.from([0x47, 0x72, 0xfc, 0xdf, 0x65, 0x2c, 0x20, 0x4a, 0x6f, 0x73, 0xe9, 0x0d, 0x0a]),
]);

describe('providerFetch', () => {
  let server: Server;
  let base: string;
  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.url === '/mime') {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end(latin1Mime);
      } else {
        res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '7' });
        res.end(JSON.stringify({ error: { code: 'TooManyRequests' } }));
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('returns MIME bytes exactly as served when asked for bytes', async () => {
    const res = await providerFetch<Uint8Array>(`${base}/mime`, { parse: 'bytes' }, () => undefined);
    expect(Buffer.from(res.body).equals(latin1Mime)).toBe(true);
  });

  it('a text read of the same body would have lost the 8-bit characters', async () => {
    const res = await providerFetch<string>(`${base}/mime`, { parse: 'text' }, () => undefined);
    expect(Buffer.from(res.body, 'utf8').equals(latin1Mime)).toBe(false);
  });

  it('still classifies an error response of a bytes request from its JSON body and Retry-After', async () => {
    const error = await providerFetch(`${base}/busy`, { parse: 'bytes' }, () => undefined).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProviderError);
    expect((error as ProviderError).kind).toBe('throttled');
    expect((error as ProviderError).details.retryAfterSeconds).toBe(7);
  });
});
