import dns from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { AppError, notFound } from '../errors.ts';
import { remoteImageUrl, remoteImageUrls } from '../sync/ingest/sanitize.ts';
import type { Actor } from './actors.ts';
import type { ServiceContext } from './context.ts';
import { getMessage } from './messages.ts';

/**
 * "Show images" for one message: the product fetches a remote image of the message on the reader's behalf, so the
 * sender learns neither the reader's address nor their browser, and the reader's browser talks only to the product.
 *
 * The proxy is not open: it fetches only addresses the message's stored HTML holds (`data-remote-src`, written by
 * the sanitiser), for a caller who may see the message (the message read's own visibility check). It is no way
 * into the product's network either: every address a host name resolves to must be a public unicast address (and
 * the connection goes to the very address that was checked, so a second DNS answer cannot swap in another), also
 * after each redirect; redirects, size and time are limited; only raster images of a known type whose bytes match
 * that type are passed on; nothing of the caller (cookies, Referer, address) is sent.
 */

export interface ImageProxyOptions {
  /**
   * Loopback `IP:port` pairs fetched although loopback is refused: the image server of the product's own tests.
   * Configuration accepts this only in test mode (see `imageProxyAllowList` in src/config.ts); empty in production.
   */
  allowLoopback?: readonly string[];
  maxBytes?: number;
  timeoutMs?: number;
  maxRedirects?: number;
  /** DNS resolution (all addresses of a name); the system resolver by default. */
  resolve?: (hostname: string) => Promise<Array<{ address: string; family: number }>>;
}

export interface ProxiedImage {
  contentType: string;
  body: Buffer;
}

export const IMAGE_LIMITS = { maxBytes: 5 * 1024 * 1024, timeoutMs: 10_000, maxRedirects: 3 } as const;

// ---------------------------------------------------------------------------------------------------------------
// Which addresses may be fetched

type Range = readonly [base: number, prefix: number, what: string];

/** IPv4 ranges that are not the public internet (RFC 6890 and cloud metadata addresses). */
const IPV4_REFUSED: readonly Range[] = [
  [0x00000000, 8, 'this network'],
  [0x0a000000, 8, 'a private network'],
  [0x64400000, 10, 'a shared (carrier-grade NAT) network'],
  [0x7f000000, 8, 'loopback'],
  [0xa9fe0000, 16, 'link-local (cloud metadata)'],
  [0xac100000, 12, 'a private network'],
  [0xc0000000, 24, 'IETF protocol assignments'],
  [0xc0000200, 24, 'documentation'],
  [0xc0586300, 24, '6to4 relay anycast'],
  [0xc0a80000, 16, 'a private network'],
  [0xc6120000, 15, 'benchmarking'],
  [0xc6336400, 24, 'documentation'],
  [0xcb007100, 24, 'documentation'],
  [0xe0000000, 4, 'multicast'],
  [0xf0000000, 4, 'reserved'],
  // Azure's host endpoint (metadata and agent traffic) sits in a public range.
  [0xa83f8110, 32, 'cloud host endpoint'],
];

function ipv4Number(ip: string): number {
  return ip.split('.').reduce((n, part) => n * 256 + Number(part), 0);
}

function refusedIpv4(ip: string): string | null {
  const n = ipv4Number(ip);
  for (const [base, prefix, what] of IPV4_REFUSED) {
    const size = 2 ** (32 - prefix);
    if (n >= base && n < base + size) return what;
  }
  return null;
}

/** The eight 16-bit groups of an IPv6 address (with `::`, an embedded dotted quad and a zone id allowed). */
function ipv6Groups(ip: string): number[] {
  let text = ip.replace(/%.*$/, '').toLowerCase();
  const quad = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (quad) {
    const n = ipv4Number(quad[1]!);
    text = `${text.slice(0, quad.index)}${(n >>> 16).toString(16)}:${(n & 0xffff).toString(16)}`;
  }
  const [head, tail] = text.split('::') as [string, string | undefined];
  const parse = (part: string | undefined) => (part ? part.split(':').map((g) => parseInt(g, 16)) : []);
  const left = parse(head);
  const right = parse(tail);
  const zeros = tail === undefined ? [] : new Array<number>(8 - left.length - right.length).fill(0);
  return [...left, ...zeros, ...right];
}

const v4Of = (high: number, low: number): string => [high >> 8, high & 0xff, low >> 8, low & 0xff].join('.');

function refusedIpv6(ip: string): string | null {
  const g = ipv6Groups(ip);
  const zeroPrefix = (n: number) => g.slice(0, n).every((x) => x === 0);
  // IPv4-mapped (::ffff:a.b.c.d) and NAT64 (64:ff9b::/96) reach an IPv4 address: judge that one.
  if (zeroPrefix(5) && g[5] === 0xffff) return refusedIpv4(v4Of(g[6]!, g[7]!));
  if (g[0] === 0x64 && g[1] === 0xff9b && g.slice(2, 6).every((x) => x === 0)) return refusedIpv4(v4Of(g[6]!, g[7]!));
  // 6to4 (2002::/16) carries its IPv4 address in the second and third groups.
  if (g[0] === 0x2002) return refusedIpv4(v4Of(g[1]!, g[2]!)) ?? null;
  // Only global unicast (2000::/3) is the internet: this refuses ::, ::1, IPv4-compatible, fc00::/7 (unique
  // local, e.g. AWS's fd00:ec2::254 metadata), fe80::/10 link-local, fec0::/10 site-local, ff00::/8 multicast.
  if ((g[0]! & 0xe000) !== 0x2000) {
    if (zeroPrefix(7) && g[7] === 1) return 'loopback';
    if (g[0]! >= 0xff00) return 'multicast';
    if ((g[0]! & 0xffc0) === 0xfe80) return 'link-local';
    if ((g[0]! & 0xfe00) === 0xfc00) return 'a private network';
    return 'not a global address';
  }
  if (g[0] === 0x2001 && g[1]! < 0x0200) return 'IETF protocol assignments (Teredo, ORCHID, benchmarking)';
  if (g[0] === 0x2001 && g[1] === 0x0db8) return 'documentation';
  if (g[0] === 0x3fff && g[1]! < 0x1000) return 'documentation';
  return null;
}

/** Why the product must not connect to `ip`, or null for a public unicast address. */
export function refusedAddress(ip: string): string | null {
  const family = net.isIP(ip.replace(/%.*$/, ''));
  if (family === 4) return refusedIpv4(ip);
  if (family === 6) return refusedIpv6(ip);
  return 'not an IP address';
}

export class RefusedImage extends AppError {}

const refusedError = (what: string): RefusedImage =>
  new RefusedImage('forbidden', `This image is not loaded: its address leads to ${what}, not to the public internet.`);

const unavailable = (why: string): AppError => new AppError('provider_unavailable', `The image could not be loaded: ${why}.`);

/** The address check for one connection: public, or an allowed loopback test server on this very port. */
function checkAddress(address: string, port: number, options: ImageProxyOptions): void {
  const why = refusedAddress(address);
  if (why === null) return;
  const allowed = options.allowLoopback ?? [];
  const hostPort = net.isIPv6(address) ? `[${address}]:${port}` : `${address}:${port}`;
  if (why === 'loopback' && allowed.includes(hostPort)) return;
  throw refusedError(why);
}

const systemResolve = async (hostname: string) => dns.promises.lookup(hostname, { all: true, verbatim: true });

/**
 * A `lookup` for the connection: resolves the name, refuses the connection when any answer is not public, and
 * hands the socket exactly the addresses it checked (no second resolution between check and connect).
 */
function guardedLookup(port: number, options: ImageProxyOptions): net.LookupFunction {
  const resolve = options.resolve ?? systemResolve;
  return ((hostname: string, lookupOptions: dns.LookupOptions, callback: (...args: unknown[]) => void) => {
    resolve(hostname).then(
      (addresses) => {
        if (addresses.length === 0) throw unavailable('its server name does not resolve');
        for (const { address } of addresses) checkAddress(address, port, options);
        if (lookupOptions.all) callback(null, addresses);
        else callback(null, addresses[0]!.address, addresses[0]!.family);
      },
    ).catch((error: unknown) => callback(error));
  }) as net.LookupFunction;
}

// ---------------------------------------------------------------------------------------------------------------
// Fetching

/** Raster types passed on, each with the bytes its files start with. SVG can carry script and is never passed on. */
const IMAGE_TYPES: ReadonlyArray<{ type: string; matches: (b: Buffer) => boolean }> = [
  { type: 'image/png', matches: (b) => b.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) },
  { type: 'image/jpeg', matches: (b) => b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff },
  { type: 'image/gif', matches: (b) => /^GIF8[79]a/.test(b.subarray(0, 6).toString('latin1')) },
  { type: 'image/webp', matches: (b) => b.subarray(0, 4).toString('latin1') === 'RIFF' && b.subarray(8, 12).toString('latin1') === 'WEBP' },
  { type: 'image/avif', matches: (b) => b.subarray(4, 8).toString('latin1') === 'ftyp' && /^avi[fs]$/.test(b.subarray(8, 12).toString('latin1')) },
  { type: 'image/bmp', matches: (b) => b.subarray(0, 2).toString('latin1') === 'BM' },
];

const ALIASES: Readonly<Record<string, string>> = { 'image/jpg': 'image/jpeg', 'image/pjpeg': 'image/jpeg', 'image/x-png': 'image/png', 'image/x-ms-bmp': 'image/bmp' };

/** The allowed type an image answer declares and its bytes confirm, or null. */
export function imageType(declared: string | undefined, body: Buffer): string | null {
  const bare = (declared ?? '').split(';')[0]!.trim().toLowerCase();
  const type = ALIASES[bare] ?? bare;
  const known = IMAGE_TYPES.find((t) => t.type === type);
  return known && known.matches(body) ? known.type : null;
}

interface Answer {
  status: number;
  location: string | undefined;
  contentType: string | undefined;
  body: Buffer;
}

function requestOnce(url: URL, options: ImageProxyOptions, signal: AbortSignal, maxBytes: number): Promise<Answer> {
  const port = Number(url.port) || (url.protocol === 'https:' ? 443 : 80);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  // A literal address is never resolved, so it is checked here.
  if (net.isIP(host)) checkAddress(host, port, options);
  const client = url.protocol === 'https:' ? https : http;
  return new Promise<Answer>((resolve, reject) => {
    const request = client.request(
      url,
      {
        method: 'GET',
        agent: false,
        lookup: guardedLookup(port, options),
        signal,
        // Nothing of the reader: no cookie, no Referer, a neutral agent.
        headers: { accept: 'image/avif,image/webp,image/png,image/jpeg,image/gif;q=0.9', 'user-agent': 'recruiter-sync-image-proxy', 'accept-encoding': 'identity' },
      },
      (response) => {
        const status = response.statusCode ?? 0;
        const location = response.headers.location;
        const contentType = response.headers['content-type'];
        if (status !== 200) {
          response.resume();
          resolve({ status, location, contentType, body: Buffer.alloc(0) });
          return;
        }
        const declared = Number(response.headers['content-length']);
        if (Number.isFinite(declared) && declared > maxBytes) {
          response.destroy();
          reject(unavailable(`it is larger than ${maxBytes / 1024 / 1024} MiB`));
          return;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        response.on('data', (chunk: Buffer) => {
          size += chunk.byteLength;
          if (size > maxBytes) {
            response.destroy();
            reject(unavailable(`it is larger than ${maxBytes / 1024 / 1024} MiB`));
            return;
          }
          chunks.push(chunk);
        });
        response.on('end', () => resolve({ status, location, contentType, body: Buffer.concat(chunks) }));
        response.on('error', reject);
      },
    );
    request.on('error', reject);
    request.end();
  });
}

/**
 * Fetches one remote image under the guard: http(s) only, every hop's addresses checked, at most `maxRedirects`
 * redirects, `maxBytes` and `timeoutMs` in all, and only a raster image whose bytes match its declared type.
 */
export async function fetchRemoteImage(address: string, options: ImageProxyOptions = {}): Promise<ProxiedImage> {
  const maxBytes = options.maxBytes ?? IMAGE_LIMITS.maxBytes;
  const maxRedirects = options.maxRedirects ?? IMAGE_LIMITS.maxRedirects;
  const timeoutMs = options.timeoutMs ?? IMAGE_LIMITS.timeoutMs;
  const signal = AbortSignal.timeout(timeoutMs);
  let url = new URL(address);
  for (let hop = 0; ; hop++) {
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw unavailable('it redirects away from the web');
    if (url.username || url.password) throw unavailable('its address carries a password');
    let answer: Answer;
    try {
      answer = await requestOnce(url, options, signal, maxBytes);
    } catch (error) {
      if (error instanceof AppError) throw error;
      if (signal.aborted) throw unavailable(`its server did not answer within ${timeoutMs / 1000} seconds`);
      throw unavailable('its server could not be reached');
    }
    if ([301, 302, 303, 307, 308].includes(answer.status) && answer.location) {
      if (hop >= maxRedirects) throw unavailable('it redirects too many times');
      url = new URL(answer.location, url);
      continue;
    }
    if (answer.status !== 200) throw unavailable(`its server answered ${answer.status}`);
    const type = imageType(answer.contentType, answer.body);
    if (type === null) throw unavailable('it is not a PNG, JPEG, GIF, WebP, AVIF or BMP image');
    return { contentType: type, body: answer.body };
  }
}

/**
 * One remote image of a message the caller may see (the message read's own visibility check: a message hidden
 * from the caller answers not found, image or not), and only an address its stored HTML holds.
 */
export async function messageImage(ctx: ServiceContext, options: ImageProxyOptions, actor: Actor, messageId: string, address: string): Promise<ProxiedImage> {
  const message = await getMessage(ctx, actor, messageId);
  const wanted = remoteImageUrl(address);
  if (wanted === null || message.bodyHtml === null || !remoteImageUrls(message.bodyHtml).has(wanted)) throw notFound('image');
  return fetchRemoteImage(wanted, options);
}
