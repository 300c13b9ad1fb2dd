import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

/**
 * OAuth tokens at rest are encrypted with AES-256-GCM. The envelope names the key that sealed it, so
 * keys can rotate: new writes use the current key, older envelopes still open with a previous key, and the
 * `tokens.rotate` job re-seals them (src/services/key-rotation.ts) so that the previous key can then be removed.
 * Each envelope is bound to where it is stored (associated data, e.g. `<authorization id>:refresh`), so a
 * ciphertext copied into another row or column does not decrypt.
 *
 * Envelope: `v1.<keyId>.<iv>.<ciphertext>.<tag>` (base64url parts).
 */
export class TokenCipher {
  private readonly keys = new Map<string, Buffer>();
  private readonly currentKeyId: string;

  constructor(currentKey: Buffer, previousKeys: Buffer[] = []) {
    for (const key of [currentKey, ...previousKeys]) {
      if (key.length !== 32) throw new Error('token encryption keys must be 32 bytes');
      this.keys.set(keyIdOf(key), key);
    }
    this.currentKeyId = keyIdOf(currentKey);
  }

  /** From TOKEN_ENCRYPTION_KEY (and, during a rotation, TOKEN_ENCRYPTION_PREVIOUS_KEYS, comma-separated). */
  static fromBase64(current: string, previous: string[] = []): TokenCipher {
    return new TokenCipher(Buffer.from(current, 'base64'), previous.filter(Boolean).map((k) => Buffer.from(k, 'base64')));
  }

  seal(plaintext: string, boundTo: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.keys.get(this.currentKeyId)!, iv);
    cipher.setAAD(Buffer.from(boundTo));
    const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return ['v1', this.currentKeyId, iv.toString('base64url'), ciphertext.toString('base64url'), cipher.getAuthTag().toString('base64url')].join('.');
  }

  open(envelope: string, boundTo: string): string {
    const [version, keyId, iv, ciphertext, tag] = envelope.split('.');
    if (version !== 'v1' || !keyId || !iv || ciphertext === undefined || !tag) throw new TokenCipherError('not a token envelope');
    const key = this.keys.get(keyId);
    if (!key) throw new TokenCipherError(`token sealed with unknown key ${keyId}: is TOKEN_ENCRYPTION_KEY the right key?`);
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
      decipher.setAAD(Buffer.from(boundTo));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]).toString('utf8');
    } catch {
      throw new TokenCipherError('token envelope failed authentication (tampered, moved, or wrong key)');
    }
  }

  /** Whether an envelope was sealed with an older key and should be re-sealed. */
  needsRotation(envelope: string): boolean {
    return envelopeKeyId(envelope) !== this.currentKeyId;
  }

  /** The same token sealed again with the current key (the envelope itself when it already is). */
  reseal(envelope: string, boundTo: string): string {
    return this.needsRotation(envelope) ? this.seal(this.open(envelope, boundTo), boundTo) : envelope;
  }

  /** Fingerprint of the key new envelopes are sealed with. */
  get currentKey(): string {
    return this.currentKeyId;
  }

  /** Fingerprints of the former keys (TOKEN_ENCRYPTION_PREVIOUS_KEYS): envelopes under them are due for re-sealing. */
  get previousKeys(): string[] {
    return [...this.keys.keys()].filter((id) => id !== this.currentKeyId);
  }
}

/** The key fingerprint an envelope names (`v1.<keyId>.…`). */
export const envelopeKeyId = (envelope: string): string | undefined => envelope.split('.')[1];

export class TokenCipherError extends Error {}

/** A short public fingerprint of a key (never the key itself). */
export const keyIdOf = (key: Buffer): string => createHash('sha256').update(key).digest('hex').slice(0, 12);
