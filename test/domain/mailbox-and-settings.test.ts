import { describe, expect, it } from 'vitest';
import { mailboxWarnings } from '../../src/domain/mailbox.ts';
import { effectsOfSettingsChange, isDowngrade } from '../../src/domain/settings.ts';
import { scopesAllowSending, scopesFor } from '../../src/domain/scopes.ts';

describe('R-14 personal-mailbox warning', () => {
  it('warns for public mail domains and for domains outside the company, never for the company domain', () => {
    expect(mailboxWarnings('jo@northwind.example', ['northwind.example'])).toEqual([]);
    expect(mailboxWarnings('Jo@NorthWind.Example', ['northwind.example'])).toEqual([]);
    expect(mailboxWarnings('jo@gmail.com', ['northwind.example'])[0]).toMatchObject({ code: 'personal_mailbox', rule: 'R-14' });
    expect(mailboxWarnings('jo@proton.me', ['northwind.example'])[0]?.code).toBe('personal_mailbox');
    expect(mailboxWarnings('jo@othercorp.example', ['northwind.example'])[0]).toMatchObject({ code: 'outside_company_domains', rule: 'R-14' });
  });
});

describe('R-03/R-06 settings effects', () => {
  it('orders access levels off < view < send_and_view', () => {
    expect(isDowngrade('send_and_view', 'view')).toBe(true);
    expect(isDowngrade('view', 'off')).toBe(true);
    expect(isDowngrade('send_and_view', 'off')).toBe(true);
    expect(isDowngrade('view', 'send_and_view')).toBe(false);
    expect(isDowngrade('view', 'view')).toBe(false);
  });
  it('a first provider choice ends nothing; a change ends everything at the old provider', () => {
    const base = { emailAccess: 'view' as const, calendarEnabled: true };
    expect(effectsOfSettingsChange({ ...base, emailProvider: null }, { ...base, emailProvider: 'google' }).deauthorizeAllAtOldProvider).toBe(false);
    expect(effectsOfSettingsChange({ ...base, emailProvider: 'google' }, { ...base, emailProvider: 'microsoft' }).deauthorizeAllAtOldProvider).toBe(true);
    expect(effectsOfSettingsChange({ ...base, emailProvider: 'google' }, { ...base, emailProvider: 'google', calendarEnabled: false })).toEqual({ deauthorizeEmail: false, deauthorizeAllAtOldProvider: false });
  });
});

describe('R-10 least-privilege scopes and R-04 send capability', () => {
  it('asks for read scopes at view, read+send at send_and_view, nothing at off', () => {
    expect(scopesFor('google', 'email', 'off')).toEqual([]);
    expect(scopesFor('google', 'email', 'view')).not.toContain('https://www.googleapis.com/auth/gmail.send');
    expect(scopesFor('microsoft', 'email', 'send_and_view')).toContain('Mail.Send');
    expect(scopesFor('microsoft', 'calendar', 'off')).toContain('Calendars.ReadWrite');
  });
  it('recognises send-capable scopes, including broader ones and Graph URL forms', () => {
    expect(scopesAllowSending('google', ['https://mail.google.com/'])).toBe(true);
    expect(scopesAllowSending('google', ['https://www.googleapis.com/auth/gmail.readonly'])).toBe(false);
    expect(scopesAllowSending('microsoft', ['https://graph.microsoft.com/Mail.Send'])).toBe(true);
    expect(scopesAllowSending('microsoft', ['mail.read'])).toBe(false);
  });
});
