import { readFileSync } from 'node:fs';

/**
 * Passwords of users created with one follow current guidance (NIST SP 800-63B): long rather than complex, and
 * never one that attackers try first. No composition rules, no expiry.
 */
export const PASSWORD_MIN_LENGTH = 12;
export const PASSWORD_MAX_LENGTH = 200;

const COMMON: ReadonlySet<string> = new Set(
  readFileSync(new URL('./common-passwords.txt', import.meta.url), 'utf8')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#')),
);

// Look-alike digits and symbols people put in for letters ("p4ssw0rd").
const UNLEET: Record<string, string> = { '0': 'o', '1': 'i', '3': 'e', '4': 'a', '5': 's', '7': 't', '8': 'b', '@': 'a', $: 's', '!': 'i' };

/** Forms of a password compared with the list: as typed, with look-alikes undone, and without digits and symbols around a word. */
function variants(password: string): string[] {
  const lower = password.toLowerCase();
  const unleet = (s: string): string => [...s].map((c) => UNLEET[c] ?? c).join('');
  const trimmed = (s: string): string => s.replace(/^[^\p{L}]+|[^\p{L}]+$/gu, '');
  const lettersOnly = (s: string): string => s.replace(/[^\p{L}]/gu, '');
  // Digits and symbols around a word are stripped before look-alikes are undone ("P4ssw0rd!!2024" is "password").
  return [lower, unleet(lower), trimmed(lower), trimmed(unleet(lower)), unleet(trimmed(lower)), lettersOnly(lower), lettersOnly(unleet(lower))];
}

/** Why a password is refused, in words for the person choosing it; undefined when it is acceptable. */
export function passwordProblem(password: string, email: string): string | undefined {
  const length = [...password].length;
  if (length < PASSWORD_MIN_LENGTH) return `The password must have at least ${PASSWORD_MIN_LENGTH} characters.`;
  if (length > PASSWORD_MAX_LENGTH) return `The password must have at most ${PASSWORD_MAX_LENGTH} characters.`;
  const lower = password.toLowerCase();
  const address = email.trim().toLowerCase();
  const localPart = address.split('@')[0] ?? '';
  if (lower === address || lower.includes(address) || (localPart.length >= 4 && lower.replace(/[^\p{L}]/gu, '') === localPart.replace(/[^\p{L}]/gu, ''))) {
    return 'The password must not be the email address or be made from it.';
  }
  if (new Set(lower).size < 5) return 'The password repeats too few characters; choose a longer phrase.';
  if (variants(password).some((v) => COMMON.has(v))) {
    return 'This password is among the most common ones that attackers try first; choose another, such as a phrase of several unrelated words.';
  }
  return undefined;
}
