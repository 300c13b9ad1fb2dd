import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, imageProxyAllowList, loadConfig } from '../../src/config.ts';
import { AppError } from '../../src/errors.ts';
import { fetchRemoteImage, imageType, refusedAddress, type ImageProxyOptions } from '../../src/services/image-proxy.ts';
import { remoteImageUrls, sanitizeEmailHtml, withRemoteImageSources } from '../../src/sync/ingest/sanitize.ts';

/**
 * The message image proxy ("Show images") must not be a way into the product's own network (SSRF): every address it
 * connects to, after every redirect, is a public unicast address; the one exception is an explicit loopback port
 * that only test mode may name.
 */
const PNG = Buffer.from('89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d4944415478da63f8cfc0f01f0005000201a7e0a1d40000000049454e44ae426082', 'hex');

describe('refused addresses', () => {
  const refused: Array<[string, RegExp]> = [
    ['0.0.0.0', /this network/],
    ['0.1.2.3', /this network/],
    ['10.0.0.1', /private/],
    ['10.255.255.255', /private/],
    ['100.64.0.1', /carrier-grade/],
    ['100.100.100.200', /carrier-grade/], // Alibaba Cloud metadata
    ['127.0.0.1', /loopback/],
    ['127.255.0.9', /loopback/],
    ['169.254.169.254', /metadata/], // AWS, GCP, Azure, OpenStack metadata
    ['169.254.0.1', /link-local/],
    ['172.16.0.1', /private/],
    ['172.31.255.254', /private/],
    ['192.0.0.8', /IETF/],
    ['192.0.2.1', /documentation/],
    ['192.88.99.1', /6to4/],
    ['192.168.1.1', /private/],
    ['198.18.0.1', /benchmarking/],
    ['198.19.255.1', /benchmarking/],
    ['198.51.100.7', /documentation/],
    ['203.0.113.9', /documentation/],
    ['224.0.0.1', /multicast/],
    ['239.255.255.250', /multicast/],
    ['240.0.0.1', /reserved/],
    ['255.255.255.255', /reserved/],
    ['168.63.129.16', /cloud host/],
    ['::', /not a global/],
    ['::1', /loopback/],
    ['::ffff:127.0.0.1', /loopback/],
    ['::ffff:7f00:1', /loopback/],
    ['::ffff:10.1.2.3', /private/],
    ['::ffff:169.254.169.254', /metadata/],
    ['::127.0.0.1', /not a global/], // IPv4-compatible (deprecated)
    ['64:ff9b::a9fe:a9fe', /metadata/], // NAT64 of 169.254.169.254
    ['64:ff9b::10.0.0.1', /private/],
    ['2002:7f00:1::', /loopback/], // 6to4 of 127.0.0.1
    ['2002:c0a8:101::1', /private/], // 6to4 of 192.168.1.1
    ['fc00::1', /private/],
    ['fd00:ec2::254', /private/], // AWS metadata over IPv6
    ['fe80::1', /link-local/],
    ['fe80::1%eth0', /link-local/],
    ['febf::1', /link-local/],
    ['fec0::1', /not a global/],
    ['ff02::1', /multicast/],
    ['100::1', /not a global/], // discard prefix
    ['2001::1', /IETF/], // Teredo
    ['2001:10::1', /IETF/],
    ['2001:db8::1', /documentation/],
    ['3fff::1', /documentation/],
    ['not-an-ip', /not an IP/],
  ];
  it.each(refused)('refuses %s', (ip, why) => {
    expect(refusedAddress(ip)).toMatch(why);
  });

  it.each(['93.184.215.14', '8.8.8.8', '1.1.1.1', '172.32.0.1', '100.128.0.1', '169.255.0.1', '2606:4700:4700::1111', '2a00:1450:4001:82b::200e', '::ffff:8.8.8.8', '64:ff9b::808:808', '2002:808:808::1'])(
    'accepts the public address %s',
    (ip) => {
      expect(refusedAddress(ip)).toBeNull();
    },
  );
});

describe('the image types passed on', () => {
  it('only raster images whose bytes match the declared type; never SVG or HTML', () => {
    expect(imageType('image/png', PNG)).toBe('image/png');
    expect(imageType('IMAGE/PNG; charset=binary', PNG)).toBe('image/png');
    expect(imageType('image/x-png', PNG)).toBe('image/png');
    expect(imageType('image/jpeg', PNG)).toBeNull();
    expect(imageType('image/png', Buffer.from('<html><script>alert(1)</script>'))).toBeNull();
    expect(imageType('image/svg+xml', Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'))).toBeNull();
    expect(imageType('text/html', PNG)).toBeNull();
    expect(imageType(undefined, PNG)).toBeNull();
    expect(imageType('image/gif', Buffer.from('GIF89a\x01\x00\x01\x00', 'latin1'))).toBe('image/gif');
    expect(imageType('image/jpeg', Buffer.from([0xff, 0xd8, 0xff, 0xe0]))).toBe('image/jpeg');
  });
});

describe('remote image addresses in stored HTML', () => {
  it('are kept, normalised, only for http(s) without credentials, and read back exactly', () => {
    const html = sanitizeEmailHtml(
      '<img src="HTTPS://Images.Example/logo.png?a=1&b=2#x" alt="logo"><img src="ftp://f.example/a.png"><img src="https://user:pw@h.example/a.png">' +
        '<img src="//proto.example/a.png"><img src="javascript:alert(1)"><img alt=\'x data-remote-src="http://10.0.0.1/"\'>',
    );
    expect([...remoteImageUrls(html)]).toEqual(['https://images.example/logo.png?a=1&b=2']);
    expect(html).not.toMatch(/\ssrc=|10\.0\.0\.1"|user:pw|proto\.example|ftp:/);
  });

  it('get their src back for a copy that leaves the product (an exported .eml)', () => {
    const html = sanitizeEmailHtml('<p>Hi</p><img src="https://images.example/logo.png?a=1&b=2" alt="logo"><img src="data:image/png;base64,iVBORw0KGgo=" alt="dot">');
    expect(withRemoteImageSources(html)).toBe('<p>Hi</p><img alt="logo" src="https://images.example/logo.png?a=1&amp;b=2" /><img src="data:image/png;base64,iVBORw0KGgo=" alt="dot" />');
    // An attribute that is not a usable address is dropped, never turned into a src.
    expect(withRemoteImageSources('<img alt="x" data-remote-src="javascript:alert(1)" />')).toBe('<img alt="x" />');
  });
});

describe('fetching a remote image', () => {
  let server: http.Server;
  let port: number;
  const seen: Array<{ url: string; headers: http.IncomingHttpHeaders }> = [];
  let redirectTo = '';
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      seen.push({ url: req.url ?? '', headers: req.headers });
      const path = (req.url ?? '').split('?')[0];
      if (path === '/logo.png') res.writeHead(200, { 'content-type': 'image/png', 'set-cookie': 'tracker=1' }).end(PNG);
      else if (path === '/redirect') res.writeHead(302, { location: redirectTo }).end();
      else if (path?.startsWith('/hop/')) {
        const n = Number(path.slice(5));
        res.writeHead(302, { location: n > 0 ? `/hop/${n - 1}` : '/logo.png' }).end();
      } else if (path === '/big') {
        res.writeHead(200, { 'content-type': 'image/png' });
        res.write(PNG);
        res.end(Buffer.alloc(64 * 1024));
      } else if (path === '/vector.svg') res.writeHead(200, { 'content-type': 'image/svg+xml' }).end('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>');
      else if (path === '/page') res.writeHead(200, { 'content-type': 'image/png' }).end('<html><script>alert(1)</script></html>');
      else if (path === '/slow') setTimeout(() => res.writeHead(200, { 'content-type': 'image/png' }).end(PNG), 2_000);
      else res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  const allowed = (): ImageProxyOptions => ({ allowLoopback: [`127.0.0.1:${port}`] });
  const refusal = async (promise: Promise<unknown>): Promise<AppError> => {
    const error = await promise.then(() => null, (e: unknown) => e);
    expect(error).toBeInstanceOf(AppError);
    return error as AppError;
  };

  it('refuses loopback, without connecting, unless the exact IP:port is allowed', async () => {
    const before = seen.length;
    const error = await refusal(fetchRemoteImage(`http://127.0.0.1:${port}/logo.png`));
    expect(error.code).toBe('forbidden');
    expect(error.message).toMatch(/loopback/);
    // Another loopback port, or another loopback address on the allowed port, is refused too.
    expect((await refusal(fetchRemoteImage(`http://127.0.0.1:${port + 1}/logo.png`, allowed()))).code).toBe('forbidden');
    expect((await refusal(fetchRemoteImage(`http://127.0.0.2:${port}/logo.png`, allowed()))).code).toBe('forbidden');
    expect((await refusal(fetchRemoteImage(`http://[::1]:${port}/logo.png`, allowed()))).code).toBe('forbidden');
    // The URL parser's other spellings of 127.0.0.1 are the same address.
    for (const spelling of [`http://2130706433:${port}/logo.png`, `http://0x7f.1:${port}/logo.png`, `http://127.1:${port}/logo.png`]) {
      expect((await refusal(fetchRemoteImage(spelling))).code).toBe('forbidden');
    }
    expect(seen.length).toBe(before);
    const image = await fetchRemoteImage(`http://127.0.0.1:${port}/logo.png`, allowed());
    expect(image).toEqual({ contentType: 'image/png', body: PNG });
  });

  it('refuses literal private, link-local, metadata and IPv6 addresses before any connection', async () => {
    for (const url of ['http://10.0.0.1/a.png', 'http://169.254.169.254/latest/meta-data/', 'http://[fd00:ec2::254]/', 'http://[::ffff:169.254.169.254]/', 'http://192.168.0.1:8080/a.png', 'http://0.0.0.0/']) {
      expect((await refusal(fetchRemoteImage(url, { timeoutMs: 500 }))).code).toBe('forbidden');
    }
  });

  it('resolves a host name and refuses it when any of its addresses is not public (DNS rebinding)', async () => {
    const before = seen.length;
    const answers: Record<string, Array<{ address: string; family: number }>> = {
      'internal.example': [{ address: '10.1.2.3', family: 4 }],
      'mixed.example': [
        { address: '93.184.215.14', family: 4 },
        { address: '127.0.0.1', family: 4 },
      ],
      'metadata.example': [{ address: 'fd00:ec2::254', family: 6 }],
      'rebind.example': [{ address: '127.0.0.1', family: 4 }],
    };
    const resolve = async (host: string) => answers[host] ?? [];
    for (const host of Object.keys(answers)) {
      const error = await refusal(fetchRemoteImage(`http://${host}:${port}/logo.png`, { resolve, timeoutMs: 1_000 }));
      expect(error.code, host).toBe('forbidden');
    }
    expect(seen.length).toBe(before);
    // The connection goes to the address the check saw: a name that resolves (here) to the allowed test server is
    // fetched from it, although the system's DNS knows no such name.
    const image = await fetchRemoteImage(`http://images.invalid:${port}/logo.png`, { ...allowed(), resolve: async () => [{ address: '127.0.0.1', family: 4 }] });
    expect(image.body.equals(PNG)).toBe(true);
    expect(seen.at(-1)!.headers.host).toBe(`images.invalid:${port}`);
  });

  it('checks every redirect: to a private, metadata or loopback address, or away from http(s), it is refused', async () => {
    for (const target of ['http://169.254.169.254/latest/meta-data/', 'http://10.0.0.5/a.png', `http://127.0.0.1:${port + 1}/logo.png`, `http://[::1]:${port}/logo.png`]) {
      redirectTo = target;
      const error = await refusal(fetchRemoteImage(`http://127.0.0.1:${port}/redirect`, { ...allowed(), timeoutMs: 1_000 }));
      expect(error.code, target).toBe('forbidden');
    }
    redirectTo = 'file:///etc/passwd';
    expect((await refusal(fetchRemoteImage(`http://127.0.0.1:${port}/redirect`, allowed()))).message).toMatch(/redirects away from the web/);
    redirectTo = `http://127.0.0.1:${port}/logo.png`;
    expect((await fetchRemoteImage(`http://127.0.0.1:${port}/redirect`, allowed())).body.equals(PNG)).toBe(true);
  });

  it('follows at most three redirects', async () => {
    expect((await fetchRemoteImage(`http://127.0.0.1:${port}/hop/2`, allowed())).body.equals(PNG)).toBe(true);
    expect((await refusal(fetchRemoteImage(`http://127.0.0.1:${port}/hop/3`, allowed()))).message).toMatch(/redirects too many times/);
  });

  it('refuses what is too large, too slow, SVG, or not the image it says it is', async () => {
    expect((await refusal(fetchRemoteImage(`http://127.0.0.1:${port}/big`, { ...allowed(), maxBytes: 32 * 1024 }))).message).toMatch(/larger than/);
    expect((await refusal(fetchRemoteImage(`http://127.0.0.1:${port}/slow`, { ...allowed(), timeoutMs: 300 }))).message).toMatch(/did not answer within/);
    expect((await refusal(fetchRemoteImage(`http://127.0.0.1:${port}/vector.svg`, allowed()))).message).toMatch(/not a PNG/);
    expect((await refusal(fetchRemoteImage(`http://127.0.0.1:${port}/page`, allowed()))).message).toMatch(/not a PNG/);
    expect((await refusal(fetchRemoteImage(`http://127.0.0.1:${port}/missing.png`, allowed()))).message).toMatch(/answered 404/);
  });

  it('sends nothing of the reader: no cookie, no Referer, a neutral user agent', async () => {
    await fetchRemoteImage(`http://127.0.0.1:${port}/logo.png?u=42`, allowed());
    const { headers } = seen.at(-1)!;
    expect(headers.cookie).toBeUndefined();
    expect(headers.referer).toBeUndefined();
    expect(headers['user-agent']).toBe('recruiter-sync-image-proxy');
    expect(Object.keys(headers).sort()).toEqual(['accept', 'accept-encoding', 'connection', 'host', 'user-agent']);
  });
});

describe('the loopback allow-list in configuration', () => {
  const simulators = { GOOGLE_API_BASE_URL: 'http://127.0.0.1:9100/google', MICROSOFT_API_BASE_URL: 'http://127.0.0.1:9100/microsoft' };
  it('is refused outside test mode, and test mode is refused against the real providers', () => {
    expect(() => imageProxyAllowList(loadConfig({ RECRUITER_SYNC_TEST_IMAGE_HOSTS: '127.0.0.1:8123', ...simulators }))).toThrow(ConfigError);
    expect(() => imageProxyAllowList(loadConfig({ RECRUITER_SYNC_TEST_IMAGE_HOSTS: '127.0.0.1:8123', RECRUITER_SYNC_TEST_MODE: '1' }))).toThrow(ConfigError);
    expect(imageProxyAllowList(loadConfig({ RECRUITER_SYNC_TEST_IMAGE_HOSTS: '127.0.0.1:8123, [::1]:8123', RECRUITER_SYNC_TEST_MODE: '1', ...simulators }))).toEqual(['127.0.0.1:8123', '[::1]:8123']);
    expect(imageProxyAllowList(loadConfig({}))).toEqual([]);
  });
  it('names loopback IP:port pairs only', () => {
    for (const bad of ['10.0.0.1:80', '169.254.169.254:80', 'localhost:8123', '127.0.0.1', '0.0.0.0:80', '[fd00::1]:80']) {
      expect(() => loadConfig({ RECRUITER_SYNC_TEST_IMAGE_HOSTS: bad, RECRUITER_SYNC_TEST_MODE: '1', ...simulators }), bad).toThrow(ConfigError);
    }
  });
});
