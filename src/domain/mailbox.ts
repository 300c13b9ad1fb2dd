import { domainOf, normalizeDomain } from './addresses.ts';

/** public mail domains, where a personal mailbox (not the company's) is likely. */
export const PUBLIC_MAIL_DOMAINS: ReadonlySet<string> = new Set([
  'gmail.com', 'googlemail.com', 'outlook.com', 'hotmail.com', 'live.com', 'msn.com', 'yahoo.com', 'ymail.com',
  'icloud.com', 'me.com', 'mac.com', 'proton.me', 'protonmail.com', 'pm.me', 'aol.com', 'gmx.com', 'gmx.de',
  'web.de', 'mail.com', 'zoho.com', 'yandex.com', 'fastmail.com', 'tutanota.com', 'hey.com',
]);

/**
 * why a mailbox may not be connected by default — a public mail domain or a domain that is not one of
 * the contract's company domains — or null for a company mailbox. The admin can allow such mailboxes; they
 * are then connected with the warnings below.
 */
export function externalMailboxRefusal(address: string, companyDomains: string[]): { code: 'personal_mailbox' | 'outside_company_domains'; message: string } | null {
  const domain = domainOf(address);
  if (PUBLIC_MAIL_DOMAINS.has(domain)) {
    return {
      code: 'personal_mailbox',
      message: `${address} is a personal mailbox (${domain}), so it was not connected. Connect your company mailbox instead, or ask your admin to allow mailboxes outside the company domains.`,
    };
  }
  if (!companyDomains.map(normalizeDomain).includes(domain)) {
    return {
      code: 'outside_company_domains',
      message: `${address} is not at one of your company's domains, so it was not connected. Connect your company mailbox instead, or ask your admin to allow mailboxes outside the company domains.`,
    };
  }
  return null;
}

/** when the admin allowed mailboxes outside the company domains, a warning still recommends the company mailbox. */
export function mailboxWarnings(address: string, companyDomains: string[]): Array<{ code: string; rule: string; message: string }> {
  const domain = domainOf(address);
  const company = companyDomains.map(normalizeDomain);
  if (PUBLIC_MAIL_DOMAINS.has(domain)) {
    return [{ code: 'personal_mailbox', rule: 'R-14', message: `${address} looks like a personal mailbox (${domain}). We recommend connecting your company mailbox instead.` }];
  }
  if (!company.includes(domain)) {
    return [{ code: 'outside_company_domains', rule: 'R-14', message: `${address} is not at one of your company's domains (${company.join(', ')}). We recommend connecting your company mailbox.` }];
  }
  return [];
}

const SAFE_REDIRECT_BASE = 'https://redirect-check.invalid';

/**
 * the only place the OAuth callback may send the browser is a path of our own UI. Returns the path
 * (normalised by the WHATWG URL parser) or null. Browsers drop tab, CR and LF inside URLs and read a
 * backslash as a slash, so "/\t/evil.example/" or "/\\evil" would leave the origin: such input is refused
 * rather than cleaned, as is anything outside printable ASCII and Latin-1.
 */
export function safeRedirectPath(value: string): string | null {
  if (!value.startsWith('/') || value.startsWith('//')) return null;
  for (const ch of value) {
    const c = ch.codePointAt(0)!;
    if (ch === '\\' || c < 0x20 || (c > 0x7e && c < 0xa0) || c > 0xff) return null;
  }
  let url: URL;
  try {
    url = new URL(value, SAFE_REDIRECT_BASE);
  } catch {
    return null;
  }
  if (url.origin !== SAFE_REDIRECT_BASE) return null;
  const path = `${url.pathname}${url.search}${url.hash}`;
  // The normalised path must itself stay relative (a path such as "/./" + "/evil" normalises to "//evil").
  return path.startsWith('//') ? null : path;
}
