/** RFC 5322 Message-IDs as the ingest step compares them (R-26: deduplication by Message-ID within a seat). */

/** `<abc@x>` as written by most clients; a bare `abc@x` gets its brackets. Null for an empty value. */
export function canonicalMessageId(value: string | null | undefined): string | null {
  if (value === null || value === undefined) return null;
  const trimmed = value.trim();
  if (trimmed === '') return null;
  const bracketed = /<([^<>\s]+)>/.exec(trimmed);
  if (bracketed) return `<${bracketed[1]}>`;
  const bare = trimmed.split(/\s+/)[0] ?? '';
  return bare === '' ? null : `<${bare.replace(/^<|>$/g, '')}>`;
}

/** The forms another writer may have stored: with and without angle brackets. */
export function messageIdForms(canonical: string): [string, string] {
  return [canonical, canonical.slice(1, -1)];
}

/** Every Message-ID of a References (or In-Reply-To) header, in order, canonical and distinct. */
export function messageIdList(value: string | readonly string[] | null | undefined): string[] {
  if (value === null || value === undefined) return [];
  const text = typeof value === 'string' ? value : value.join(' ');
  const found = text.match(/<[^<>\s]+>/g) ?? text.split(/[\s,]+/).filter((t) => t.includes('@'));
  const out: string[] = [];
  for (const raw of found) {
    const id = canonicalMessageId(raw);
    if (id !== null && !out.includes(id)) out.push(id);
  }
  return out;
}
