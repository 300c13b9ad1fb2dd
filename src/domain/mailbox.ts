import { domainOf, normalizeDomain } from './addresses.ts';

/** public mail domains, where a personal mailbox (not the company's) is likely. */
export const PUBLIC_MAIL_DOMAINS: ReadonlySet<string> = new Set([
  'gmail.com', 'googlemail.com', 'outlook.com', 'hotmail.com', 'live.com', 'msn.com', 'yahoo.com', 'ymail.com',
  'icloud.com', 'me.com', 'mac.com', 'proton.me', 'protonmail.com', 'pm.me', 'aol.com', 'gmx.com', 'gmx.de',
  'web.de', 'mail.com', 'zoho.com', 'yandex.com', 'fastmail.com', 'tutanota.com', 'hey.com',
]);

/** warn (never block) when the authorized mailbox is personal or outside the company's domains. */
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
