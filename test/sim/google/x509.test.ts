import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { selfSignedCertificatePem } from '../../../sim/google/x509.ts';

/** The simulator's small DER encoder for self-signed certificates, read back by node:crypto. */
describe('self-signed X.509 certificates', () => {
  it('encodes long lengths, a serial with its high bit set, and UTCTime / GeneralizedTime dates that node:crypto reads back', () => {
    // A 2048-bit key's SPKI and signature are longer than 255 bytes (multi-byte DER lengths).
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const pem = selfSignedCertificatePem({
      publicKey,
      privateKey,
      commonName: 'federated-signon.system.gserviceaccount.com',
      notBefore: new Date('2049-12-31T23:59:58Z'),
      notAfter: new Date('2060-06-01T12:00:00Z'),
      serial: Buffer.from([0x00, 0x00, 0x9a, 0xbc, 0x01]),
    });
    const cert = new X509Certificate(pem);
    expect(cert.subject).toBe('CN=federated-signon.system.gserviceaccount.com');
    expect(cert.issuer).toBe(cert.subject);
    expect(cert.serialNumber.replace(/^0+/, '')).toBe('9ABC01');
    expect(new Date(cert.validFrom).toISOString()).toBe('2049-12-31T23:59:58.000Z');
    expect(new Date(cert.validTo).toISOString()).toBe('2060-06-01T12:00:00.000Z');
    expect(cert.publicKey.export({ format: 'jwk' })).toEqual(publicKey.export({ format: 'jwk' }));
    expect(cert.verify(publicKey)).toBe(true);
    // Signed by this key only.
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 });
    expect(cert.verify(other.publicKey)).toBe(false);
  });
});
