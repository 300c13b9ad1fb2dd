import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCompany, insertGrant } from '../helpers/fixtures.ts';
import { launchBrowser, prepareBrowserTests, screenshot, startProduct, openPage, signIn, type Product } from './harness.ts';

/**
 * Browser journeys through the built UI, served by the product itself (same origin, strict CSP): an admin
 * sets up company email, a recruiter connects and disconnects a mailbox through the provider's consent page.
 */
const GOOGLE_READ = 'https://www.googleapis.com/auth/gmail.readonly';
const GOOGLE_SEND = 'https://www.googleapis.com/auth/gmail.send';
const simulatorsBuilt = fs.existsSync(path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../sim/server.ts'));

type Simulators = { url: string; control(method: string, path: string, body?: unknown): Promise<unknown>; close(): Promise<void> };

let browser: Browser;
let product: Product;
let sim: Simulators | undefined;

beforeAll(async () => {
  prepareBrowserTests();
  if (simulatorsBuilt) {
    // Loaded only when the simulators exist, so that this suite runs while they are still being built.
    const helper = (await import('../helpers/simulators.ts').catch((error: Error) => {
      console.warn(`Simulators not loadable (${error.message}): the journeys check the navigation to the consent page only`);
      return undefined;
    })) as { startTestSimulators(): Promise<Simulators> } | undefined;
    sim = await helper?.startTestSimulators();
  }
  [browser, product] = await Promise.all([launchBrowser(), startProduct(sim ? { simulatorUrl: sim.url } : {})]);
});

afterAll(async () => {
  await browser?.close();
  await product?.close();
  await sim?.close();
});



describe('admin: company email & calendar', () => {
  it('signs in, picks the provider and level, confirms a downgrade with the seat count, sees the audit log, signs out', async () => {
    const c = await createCompany(product.api, 'Acme Talent', 'acme.test');
    const second = await c.json('POST', `/api/v1/contracts/${c.contract.id}/users`, { email: 'sam@acme.test', name: 'Sam Sourcer', role: 'recruiter' });
    const secondSeat = await c.json('POST', `/api/v1/contracts/${c.contract.id}/seats`, { userId: second.id });
    // Enough history for more than one page of the audit log.
    for (let i = 0; i < 18; i++) await c.json('POST', `/api/v1/contracts/${c.contract.id}/users`, { email: `person${i}@acme.test`, name: `Person ${i}`, role: 'recruiter' });

    const { context, page, problems } = await openPage(browser);
    const first = await page.goto(`${product.url}/admin/email`);
    // Served by the product with its strict policy: the page works without inline scripts (no CSP error below).
    expect(first?.headers()['content-security-policy']).toContain("script-src 'self'");
    await expect.poll(() => page.getByRole('heading', { name: 'Sign in' }).isVisible()).toBe(true);
    await screenshot(page, 'sign-in');

    // A wrong password is refused with the server's message.
    await page.getByLabel('Work email').fill('admin@acme.test');
    await page.getByLabel('Password').fill('wrong password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toMatch(/password|sign/i);

    await signIn(page, product.url, 'admin@acme.test');
    await page.getByRole('heading', { name: 'Company email & calendar' }).waitFor();
    expect(new URL(page.url()).pathname).toBe('/admin/email');
    await expect.poll(() => page.getByTestId('company-name').textContent()).toBe('Acme Talent');
    const nav = page.getByRole('navigation', { name: 'Main' });
    expect(await nav.getByRole('link').allTextContents()).toEqual(['Company email & calendar', 'My email & calendar']);

    // Nothing changed yet: the save button says why it is off.
    const save = page.getByRole('button', { name: 'Save changes' });
    expect(await save.isDisabled()).toBe(true);
    expect(await page.getByText('No changes to save.').isVisible()).toBe(true);

    // First setup: provider and level are an upgrade, so no confirmation is needed.
    await page.getByRole('radio', { name: /Google Workspace/ }).check();
    await page.getByRole('radio', { name: /Send & view/ }).check();
    await save.click();
    await page.getByText('Settings saved.').waitFor();
    const audit = page.getByRole('list', { name: 'Audit entries, newest first' });
    await expect.poll(() => audit.getByRole('listitem').first().textContent()).toContain('Ada Admin changed the email provider from none to Google Workspace and email access from Off to Send & view');
    expect(await audit.getByRole('listitem').first().textContent()).toContain('Ada Admin');
    let stored = (await product.api.call('GET', `/api/v1/contracts/${c.contract.id}/settings`)).json();
    expect(stored).toMatchObject({ emailProvider: 'google', emailAccess: 'send_and_view' });

    // Two seats connect their email (as the authorization flow leaves them).
    await insertGrant(product.api, { seatId: c.seat.id, contractId: c.contract.id, kind: 'email', provider: 'google', scopes: [GOOGLE_READ, GOOGLE_SEND] });
    await insertGrant(product.api, { seatId: secondSeat.id, contractId: c.contract.id, kind: 'email', provider: 'google', scopes: [GOOGLE_READ, GOOGLE_SEND], address: 'sam@acme.test' });
    const health = page.getByRole('region', { name: 'Sync health' });
    await page.getByRole('button', { name: 'Refresh' }).click();
    await expect.poll(() => health.getByText('Connected', { exact: true }).count()).toBe(2);

    // A downgrade asks first and names how many seats it disconnects; Escape cancels and nothing changes.
    await page.getByRole('radio', { name: /View only/ }).check();
    await save.click();
    const dialog = page.getByRole('dialog', { name: 'Disconnect 2 seats?' });
    await dialog.waitFor();
    expect(await dialog.getByTestId('deauthorize-count').textContent()).toBe('2 seats are connected now and will be disconnected: Rita Recruiter, Sam Sourcer.');
    await screenshot(page, 'admin-downgrade-confirmation', { fullPage: false });
    // Keyboard: the dialog holds the focus on its safe choice, Escape closes it and the focus returns.
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Cancel');
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Save changes');
    stored = (await product.api.call('GET', `/api/v1/contracts/${c.contract.id}/settings`)).json();
    expect(stored.emailAccess).toBe('send_and_view');

    await save.click();
    await dialog.getByRole('button', { name: 'Disconnect 2 seats and save' }).click();
    await page.getByText('Settings saved. 2 seats disconnected; their recruiters must connect again.').waitFor();
    await expect.poll(() => audit.getByRole('listitem').first().textContent()).toContain('Ada Admin changed email access from Send & view to View only, which disconnected 2 seats');
    const ended = await audit.getByRole('listitem').filter({ hasText: /Ada Admin disconnected (Rita Recruiter|Sam Sourcer)’s mailbox at Google Workspace because the email access level was lowered/ }).allTextContents();
    expect(ended, ended.join('\n')).toHaveLength(2);
    // Both seats read "Disconnected" in the sync column, which says the same as each seat's own page.
    await expect.poll(() => health.getByTestId('sync-status').filter({ hasText: /^Disconnected$/ }).count()).toBe(2);
    stored = (await product.api.call('GET', `/api/v1/contracts/${c.contract.id}/settings`)).json();
    expect(stored.emailAccess).toBe('view');

    // a seat whose token still carries the send permission at "View only" is named in a notice.
    const third = await c.json('POST', `/api/v1/contracts/${c.contract.id}/users`, { email: 'pat@acme.test', name: 'Pat Partner', role: 'recruiter' });
    const thirdSeat = await c.json('POST', `/api/v1/contracts/${c.contract.id}/seats`, { userId: third.id });
    await insertGrant(product.api, { seatId: thirdSeat.id, contractId: c.contract.id, kind: 'email', provider: 'google', scopes: [GOOGLE_READ, GOOGLE_SEND], address: 'pat@acme.test' });
    await page.reload();
    const notice = page.getByRole('status').filter({ hasText: 'still hold the send permission' });
    await expect.poll(() => notice.textContent()).toContain('1 seat(s) still hold the send permission at the provider');
    await expect.poll(() => notice.textContent()).toContain('Seats: Pat Partner');

    // The audit log pages backwards with `before` until its beginning.
    await expect.poll(() => audit.getByRole('listitem').count()).toBe(20);
    await page.getByRole('button', { name: 'Show older entries' }).click();
    await page.getByText('This is the beginning of the log.').waitFor();
    const all = (await product.api.call('GET', `/api/v1/contracts/${c.contract.id}/audit?limit=500`)).json().entries;
    expect(await audit.getByRole('listitem').count()).toBe(all.length);
    expect(await audit.getByRole('listitem').last().textContent()).toContain('created the company');
    await screenshot(page, 'admin-company-email');

    // Small screens: the same page reflows without a horizontal page scroll.
    await page.setViewportSize({ width: 390, height: 844 });
    expect(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth)).toBe(true);
    await screenshot(page, 'admin-company-email-mobile', { fullPage: false });
    await page.setViewportSize({ width: 1280, height: 900 });

    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByText('You are signed out.').waitFor();
    // Signed out, the session probe answers 200 {user: null}: nothing for the console to report.
    const session = await page.evaluate(async () => {
      const res = await fetch('/api/v1/session');
      return { status: res.status, body: await res.json() };
    });
    expect(session).toEqual({ status: 200, body: { user: null } });
    expect(problems).toEqual([]);
    await context.close();
  });
});

describe('recruiter: my email & calendar', () => {
  const PROVIDERS = {
    google: { authorizePath: '/o/oauth2/v2/auth', read: GOOGLE_READ, send: GOOGLE_SEND, calendar: 'https://www.googleapis.com/auth/calendar.events' },
    microsoft: { authorizePath: '/oauth2/v2.0/authorize', read: 'Mail.Read', send: 'Mail.Send', calendar: 'Calendars.ReadWrite' },
  } as const;

  it.each(['google', 'microsoft'] as const)('with %s: signs in, sees "not connected", connects through the consent page, then disconnects', async (provider) => {
    const wire = PROVIDERS[provider];
    const domain = `globex-${provider}.test`;
    const address = `rita@${domain}`;
    const c = await createCompany(product.api, 'Globex Hiring', domain);
    await c.json('PUT', `/api/v1/contracts/${c.contract.id}/settings`, { emailProvider: provider, emailAccess: 'view', calendarEnabled: false });
    if (sim) {
      await sim.control('POST', '/_sim/tenants', { provider, domain });
      await sim.control('POST', '/_sim/mailboxes', { provider, address });
    }

    const { context, page, problems } = await openPage(browser);
    // Screenshots come from the first run only; the second proves the same journey at the other provider.
    const shoot = (name: string) => (provider === 'google' ? screenshot(page, name) : Promise.resolve());
    await signIn(page, product.url, address);
    await page.getByRole('heading', { name: 'My email & calendar' }).waitFor();
    expect(new URL(page.url()).pathname).toBe('/settings/email');
    // Recruiters see only the screens they can use.
    expect(await page.getByRole('navigation', { name: 'Main' }).getByRole('link').allTextContents()).toEqual(['My email & calendar']);

    const email = page.getByTestId('email-card');
    const calendar = page.getByTestId('calendar-card');
    await expect.poll(() => email.getByText('Not connected', { exact: true }).isVisible()).toBe(true);
    // The calendar is off for the company: the button says why it cannot be used.
    const connectCalendar = calendar.getByRole('button', { name: 'Connect calendar' });
    expect(await connectCalendar.isDisabled()).toBe(true);
    expect(await connectCalendar.getAttribute('aria-describedby')).toBeTruthy();
    expect(await calendar.getByText('The calendar is turned off for your company. Your admin can turn it on.').isVisible()).toBe(true);
    await shoot('recruiter-not-connected');

    // Connect: the browser goes to the provider's consent page with our PKCE authorization request.
    const providerRequest = page.waitForRequest((r) => r.isNavigationRequest() && r.url().includes(wire.authorizePath));
    if (!sim) {
      // No provider on this port without the simulators: the navigation itself is what is checked.
      await page.route('http://127.0.0.1:9/**', (route) => route.fulfill({ status: 200, contentType: 'text/html', body: '<title>Provider</title>' }));
    }
    await email.getByRole('button', { name: 'Connect email' }).click();
    const authorization = new URL((await providerRequest).url());
    await page.waitForURL((u) => u.href.includes(wire.authorizePath));
    expect(authorization.searchParams.get('client_id')).toBe('recruiter-sync-local');
    expect(authorization.searchParams.get('redirect_uri')).toBe(`${product.url}/oauth/${provider}/callback`);
    expect(authorization.searchParams.get('code_challenge_method')).toBe('S256');
    expect(authorization.searchParams.get('scope')).toContain(wire.read);
    expect(authorization.searchParams.get('scope')).not.toContain(wire.send);

    if (sim) {
      // The simulated consent page approves at once for this mailbox, then sends the browser back.
      authorization.searchParams.set('auto_consent', '1');
      authorization.searchParams.set('login_hint', address);
      await page.goto(authorization.toString());
    } else {
      await insertGrant(product.api, { seatId: c.seat.id, contractId: c.contract.id, kind: 'email', provider, scopes: ['openid', 'email', wire.read], address });
      await page.goto(`${product.url}/settings/email?authorization=connected&kind=email`);
    }
    await page.getByText('Your email is connected. Syncing your candidate conversations starts now.').waitFor();
    // The outcome is read once: the address bar no longer carries it.
    await expect.poll(() => new URL(page.url()).search).toBe('');
    await expect.poll(() => email.getByTestId('email-address').textContent()).toBe(address);
    expect(await email.getByText('Connected', { exact: true }).isVisible()).toBe(true);
    expect(await email.getByText('Read your email').isVisible()).toBe(true);
    expect(await email.getByText('Send email on your behalf').count()).toBe(0);
    expect(await email.getByTestId('sync-phase').textContent()).toBeTruthy();
    await shoot('recruiter-connected');

    // Disconnect asks first; then the grant ends at the server.
    await email.getByRole('button', { name: 'Disconnect email' }).click();
    const dialog = page.getByRole('dialog', { name: 'Disconnect your email?' });
    await dialog.getByRole('button', { name: 'Disconnect' }).click();
    await page.getByText('Your email is disconnected. Email already synced stays in the candidate profiles.').waitFor();
    await expect.poll(() => email.getByText('Disconnected', { exact: true }).isVisible()).toBe(true);
    const mailbox = (await product.api.call('GET', `/api/v1/seats/${c.seat.id}/mailbox`, { token: c.contractToken, actAs: c.recruiter.id })).json();
    expect(mailbox.email.state).toBe('deauthorized');
    expect(await email.getByRole('button', { name: 'Connect email' }).isEnabled()).toBe(true);
    await shoot('recruiter-disconnected');

    // a grant on a personal mailbox is allowed but warned about; a calendar turned off keeps its grant.
    await insertGrant(product.api, { seatId: c.seat.id, contractId: c.contract.id, kind: 'calendar', provider, scopes: [wire.calendar], address: 'rita.home@gmail.com' });
    await page.reload();
    await expect.poll(() => calendar.getByTestId('calendar-address').textContent()).toBe('rita.home@gmail.com');
    expect(await calendar.getByText('rita.home@gmail.com looks like a personal mailbox (gmail.com). We recommend connecting your company mailbox instead.').isVisible()).toBe(true);
    expect(await calendar.getByText('The calendar is turned off for your company. Your connection is kept').isVisible()).toBe(true);
    expect(await calendar.getByText('Create and change calendar events').isVisible()).toBe(true);
    await shoot('recruiter-warnings');

    // when the provider stops renewing access, the page says why and offers to reconnect (here the
    // calendar is off for the company, so the button says that instead of acting).
    const refusal = 'The provider refused to renew access: Token has been expired or revoked.';
    await product.api.ctx.db.updateTable('mailbox_authorizations').set({ state: 'needs_reauthorization', state_reason: refusal }).where('seat_id', '=', c.seat.id).where('kind', '=', 'calendar').execute();
    await page.reload();
    await expect.poll(() => calendar.getByText('Needs reconnecting', { exact: true }).isVisible()).toBe(true);
    expect(await calendar.getByText(refusal).isVisible()).toBe(true);
    expect(await calendar.getByRole('button', { name: 'Reconnect' }).isDisabled()).toBe(true);
    expect(await calendar.getByText('The calendar is turned off for your company. Your admin can turn it on.').isVisible()).toBe(true);

    // A failed authorization comes back in plain words.
    await page.goto(`${product.url}/settings/email?authorization=failed&kind=email&code=consent_denied&message=${encodeURIComponent('You declined the permissions, so your mailbox was not connected.')}`);
    await expect.poll(() => page.getByRole('alert').first().textContent()).toContain('Your email was not connected. You declined the permissions, so your mailbox was not connected.');

    // The admin page is not for recruiters: its address leads back to their own settings.
    await page.goto(`${product.url}/admin/email`);
    await expect.poll(() => new URL(page.url()).pathname).toBe('/settings/email');
    expect(problems).toEqual([]);
    await context.close();
  });
});
