import { randomBytes, sign, type KeyObject } from 'node:crypto';

/**
 * A self-signed X.509 v3 certificate for the simulator's token-signing key, as Google publishes its keys at
 * `/oauth2/v1/certs` (PEM certificates keyed by kid; google-auth-library verifies Pub/Sub push tokens with them).
 * node:crypto reads certificates but cannot build one, hence this small DER encoder: just what an RSA
 * certificate with sha256WithRSAEncryption needs (RFC 5280 §4.1).
 */

function der(tag: number, content: Buffer): Buffer {
  const n = content.length;
  let length: Buffer;
  if (n < 0x80) length = Buffer.from([n]);
  else {
    const bytes: number[] = [];
    for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v % 256);
    length = Buffer.from([0x80 | bytes.length, ...bytes]);
  }
  return Buffer.concat([Buffer.from([tag]), length, content]);
}

const sequence = (...items: Buffer[]) => der(0x30, Buffer.concat(items));
const set = (...items: Buffer[]) => der(0x31, Buffer.concat(items));
const explicit = (n: number, item: Buffer) => der(0xa0 | n, item);
const nullValue = () => der(0x05, Buffer.alloc(0));
const utf8 = (text: string) => der(0x0c, Buffer.from(text, 'utf8'));
const bitString = (bytes: Buffer) => der(0x03, Buffer.concat([Buffer.from([0]), bytes]));

/** A non-negative INTEGER from big-endian bytes: minimal, with a leading zero when the high bit is set. */
function integer(bytes: Buffer): Buffer {
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0) i++;
  const trimmed = bytes.subarray(i);
  return der(0x02, trimmed[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), trimmed]) : trimmed);
}

function oid(dotted: string): Buffer {
  const [a, b, ...rest] = dotted.split('.').map(Number);
  const out = [a! * 40 + b!];
  for (const n of rest) {
    const groups: number[] = [];
    for (let v = n; ; v = Math.floor(v / 128)) {
      groups.unshift((v % 128) | (groups.length > 0 ? 0x80 : 0));
      if (v < 128) break;
    }
    out.push(...groups);
  }
  return der(0x06, Buffer.from(out));
}

/** UTCTime until 2049, GeneralizedTime from 2050 on (RFC 5280 §4.1.2.5). */
function time(date: Date): Buffer {
  const iso = date.toISOString();
  const digits = iso.slice(0, 19).replace(/[-T:]/g, '');
  return date.getUTCFullYear() < 2050 ? der(0x17, Buffer.from(`${digits.slice(2)}Z`, 'ascii')) : der(0x18, Buffer.from(`${digits}Z`, 'ascii'));
}

const SHA256_WITH_RSA = sequence(oid('1.2.840.113549.1.1.11'), nullValue());
const commonNameOf = (cn: string) => sequence(set(sequence(oid('2.5.4.3'), utf8(cn))));

export interface CertificateInput {
  /** The certified public key and the private key that signs the certificate (the same pair: self-signed). */
  publicKey: KeyObject;
  privateKey: KeyObject;
  commonName: string;
  notBefore: Date;
  notAfter: Date;
  /** Positive serial number bytes; random when absent. */
  serial?: Buffer;
}

/** A PEM `-----BEGIN CERTIFICATE-----` for an RSA key pair, signed with itself. */
export function selfSignedCertificatePem(input: CertificateInput): string {
  const name = commonNameOf(input.commonName);
  const serial = input.serial ?? Buffer.concat([Buffer.from([0x01]), randomBytes(15)]);
  const tbs = sequence(
    explicit(0, integer(Buffer.from([2]))), // v3
    integer(serial),
    SHA256_WITH_RSA,
    name,
    sequence(time(input.notBefore), time(input.notAfter)),
    name,
    input.publicKey.export({ type: 'spki', format: 'der' }),
  );
  const signature = sign('sha256', tbs, input.privateKey);
  const certificate = sequence(tbs, SHA256_WITH_RSA, bitString(signature));
  const base64 = certificate.toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '');
  return `-----BEGIN CERTIFICATE-----\n${base64}\n-----END CERTIFICATE-----\n`;
}
