import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { TokenCipher, TokenCipherError } from '../../src/crypto/token-cipher.ts';

describe('token encryption at rest (R-11)', () => {
  const key = randomBytes(32);
  const cipher = new TokenCipher(key);

  it('round-trips and never contains the plaintext', () => {
    const envelope = cipher.seal('ya29.secret-access-token', 'auth-1:access');
    expect(envelope).toMatch(/^v1\.[0-9a-f]{12}\./);
    expect(envelope).not.toContain('secret-access-token');
    expect(cipher.open(envelope, 'auth-1:access')).toBe('ya29.secret-access-token');
    expect(cipher.seal('same', 'x')).not.toBe(cipher.seal('same', 'x'));
  });

  it('refuses an envelope moved to another row or column, or tampered with', () => {
    const envelope = cipher.seal('refresh-token', 'auth-1:refresh');
    expect(() => cipher.open(envelope, 'auth-2:refresh')).toThrow(TokenCipherError);
    const parts = envelope.split('.');
    parts[3] = Buffer.from('forged').toString('base64url');
    expect(() => cipher.open(parts.join('.'), 'auth-1:refresh')).toThrow(TokenCipherError);
  });

  it('opens envelopes of a previous key during rotation and flags them for re-sealing', () => {
    const newKey = randomBytes(32);
    const rotated = new TokenCipher(newKey, [key]);
    const old = cipher.seal('refresh-token', 'a:refresh');
    expect(rotated.open(old, 'a:refresh')).toBe('refresh-token');
    expect(rotated.needsRotation(old)).toBe(true);
    expect(rotated.needsRotation(rotated.seal('x', 'a:refresh'))).toBe(false);
    expect(() => new TokenCipher(newKey).open(old, 'a:refresh')).toThrow(/unknown key/);
  });

  it('rejects keys that are not 32 bytes', () => {
    expect(() => new TokenCipher(randomBytes(16))).toThrow(/32 bytes/);
  });
});
