import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/store/database.ts';
import { sanitizeEmailHtml } from '../../src/sync/ingest/sanitize.ts';
import { startTestApi, type TestApi } from '../helpers/app.ts';
import { backends } from '../helpers/databases.ts';
import { createCompany, insertMessage } from '../helpers/fixtures.ts';

/**
 * "Show images" (API.md "Messages"): GET /api/v1/messages/{id}/images?url=… fetches a remote image of a message for
 * whoever may see the message (the same visibility predicate as the message read, R-60 … R-63), and only an
 * address the message's stored HTML holds, so the route is no open proxy.
 */
const PNG = Buffer.from('89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d4944415478da63f8cfc0f01f0005000201a7e0a1d40000000049454e44ae426082', 'hex');

describe.each(backends)('message images on $name', (backend) => {
  let database: Database;
  let api: TestApi;
  let images: http.Server;
  let base: string;
  const requested: string[] = [];
  let n = 0;
  beforeAll(async () => {
    images = http.createServer((req, res) => {
      requested.push(req.url ?? '');
      res.writeHead(200, { 'content-type': 'image/png', 'set-cookie': 'tracker=1' }).end(PNG);
    });
    await new Promise<void>((resolve) => images.listen(0, '127.0.0.1', resolve));
    const { port } = images.address() as AddressInfo;
    base = `http://127.0.0.1:${port}`;
    database = await backend.open();
    // The image server of this test is on loopback: named explicitly, as only test mode may.
    api = await startTestApi(database, { imageProxy: { allowLoopback: [`127.0.0.1:${port}`] } });
  });
  afterAll(async () => {
    await api?.close();
    await database?.close();
    images?.closeAllConnections();
    await new Promise((resolve) => images?.close(resolve));
  });

  /** Rita's private email from Carla with a logo (as the sanitiser stores it), and Sam, a colleague. */
  async function world(html: string) {
    const c = await createCompany(api, `Images ${++n}`, `img${n}.test`);
    await c.json('PUT', `/api/v1/contracts/${c.contract.id}/settings`, { emailProvider: 'google', emailAccess: 'view' });
    const sam = await c.json('POST', `/api/v1/contracts/${c.contract.id}/users`, { email: `sam@img${n}.test`, name: 'Sam Sourcer', role: 'recruiter' });
    await c.json('POST', `/api/v1/contracts/${c.contract.id}/seats`, { userId: sam.id });
    const { messageId } = await insertMessage(api, { contractId: c.contract.id, seatId: c.seat.id, ownerUserId: c.recruiter.id, candidateId: c.candidate.id });
    await api.ctx.db.updateTable('mail_messages').set({ body_html: sanitizeEmailHtml(html) }).where('id', '=', messageId).execute();
    const as = (userId: string) => ({ token: c.contractToken, actAs: userId });
    const image = (url: string, userId = c.recruiter.id) => api.call('GET', `/api/v1/messages/${messageId}/images?url=${encodeURIComponent(url)}`, as(userId));
    return { ...c, sam, as, messageId, image };
  }

  it('serves an image of the message to its owner, inert and private, with nothing of the sender passed on', async () => {
    const w = await world(`<p>Hello</p><img src="${base}/logo.png?id=7" alt="Logo">`);
    const message = (await api.call('GET', `/api/v1/messages/${w.messageId}`, w.as(w.recruiter.id))).json();
    expect(message.bodyHtml).toBe(`<p>Hello</p><img alt="Logo" data-remote-src="${base}/logo.png?id=7" />`);
    const res = await w.image(`${base}/logo.png?id=7`);
    expect(res.statusCode, res.body).toBe(200);
    expect(res.rawPayload.equals(PNG)).toBe(true);
    expect(res.headers['content-type']).toBe('image/png');
    expect(res.headers['content-security-policy']).toMatch(/^default-src 'none'/);
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['cache-control']).toMatch(/^private/);
    expect(res.headers['set-cookie']).toBeUndefined();
    expect(requested.at(-1)).toBe('/logo.png?id=7');
  });

  it('refuses an address the message does not hold: the route is no open proxy', async () => {
    const w = await world(`<img src="${base}/logo.png">`);
    const before = requested.length;
    for (const url of [`${base}/other.png`, `${base}/logo.png?x=1`, 'http://169.254.169.254/latest/meta-data/', 'not a url', 'file:///etc/passwd']) {
      const res = await w.image(url);
      expect(res.statusCode, url).toBe(404);
      expect(res.json().error).toEqual({ code: 'not_found', message: 'image not found' });
    }
    expect(requested.length).toBe(before);
  });

  it('R-60 … R-63: a recruiter who cannot see the message cannot fetch its image, until it is shared', async () => {
    const w = await world(`<img src="${base}/private.png">`);
    const before = requested.length;
    const refused = await w.image(`${base}/private.png`, w.sam.id);
    expect(refused.statusCode).toBe(404);
    expect(refused.json()).toEqual({ error: { code: 'not_found', message: 'message not found' } });
    // The admin holds no seat: no back door either; nor an anonymous caller.
    expect((await w.image(`${base}/private.png`, w.admin.id)).statusCode).toBe(404);
    const anonymous = await api.call('GET', `/api/v1/messages/${w.messageId}/images?url=${encodeURIComponent(`${base}/private.png`)}`, { token: null });
    expect(anonymous.statusCode).toBe(401);
    expect(requested.length).toBe(before);
    expect((await api.call('PATCH', `/api/v1/messages/${w.messageId}`, { ...w.as(w.recruiter.id), body: { visibility: 'contract' } })).statusCode).toBe(200);
    const shared = await w.image(`${base}/private.png`, w.sam.id);
    expect(shared.statusCode, shared.body).toBe(200);
    expect(shared.rawPayload.equals(PNG)).toBe(true);
  });

  it('refuses an address of the message on a private network, and says nothing while email is off', async () => {
    const w = await world('<img src="http://169.254.169.254/latest/meta-data/iam.png"><img src="http://10.0.0.7/a.png">');
    for (const url of ['http://169.254.169.254/latest/meta-data/iam.png', 'http://10.0.0.7/a.png']) {
      const res = await w.image(url);
      expect(res.statusCode, url).toBe(403);
      expect(res.json().error.message).toMatch(/not to the public internet/);
    }
    await w.json('PUT', `/api/v1/contracts/${w.contract.id}/settings`, { emailAccess: 'off' });
    expect((await w.image('http://10.0.0.7/a.png')).json().error.code).toBe('email_disabled');
  });

  it('keeps messages stored before remote images were kept readable: they hold the alt text and no image to fetch', async () => {
    const w = await world('<p>Hello</p>');
    await api.ctx.db.updateTable('mail_messages').set({ body_html: '<p>Hello</p><span>Company logo</span>' }).where('id', '=', w.messageId).execute();
    const message = (await api.call('GET', `/api/v1/messages/${w.messageId}`, w.as(w.recruiter.id))).json();
    expect(message.bodyHtml).toBe('<p>Hello</p><span>Company logo</span>');
    expect((await w.image(`${base}/logo.png`)).statusCode).toBe(404);
  });
});
