/** Small text helpers: ASCII folding for addresses, header formatting, templates, HTML escaping. */

const FOLD: Record<string, string> = { ł: 'l', Ł: 'L', ø: 'o', Ø: 'O', å: 'a', Å: 'A', ß: 'ss', æ: 'ae', Æ: 'AE', ı: 'i' };

/** "Łukasz Ødegaard" → "Lukasz Odegaard", for the local part of an address. */
export function asciiFold(text: string): string {
  return text
    .replace(/[łŁøØåÅßæÆı]/g, (ch) => FOLD[ch] ?? ch)
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/[^A-Za-z0-9]/g, '');
}

/** `"Display Name" <address>`; the composer turns non-ASCII names into RFC 2047 encoded-words. */
export function formatAddress(name: string | null, address: string): string {
  if (!name) return address;
  return `"${name.replace(/["\\]/g, '\\$&')}" <${address}>`;
}

/** Compares as SPEC §4 says: case-insensitive, `+tags` ignored. */
export function normalizeAddress(address: string): string {
  const lower = address.trim().toLowerCase();
  const at = lower.lastIndexOf('@');
  if (at < 0) return lower;
  const local = lower.slice(0, at);
  const plus = local.indexOf('+');
  return `${plus >= 0 ? local.slice(0, plus) : local}@${lower.slice(at + 1)}`;
}

export function fillTemplate(template: string, values: Readonly<Record<string, string>>): string {
  return template.replace(/\{(\w+)\}/g, (whole, name: string) => values[name] ?? whole);
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[ch] ?? ch);
}

/** A short stable tag for a string (used in Message-IDs), from FNV-1a. */
export function shortHash(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0).toString(16).padStart(8, '0');
}
