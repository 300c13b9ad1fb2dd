import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCompany, insertGrant } from '../helpers/fixtures.ts';
import { launchBrowser, openPage, PASSWORD, prepareBrowserTests, screenshot, signIn, startProduct, type Product } from './harness.ts';

/**
 * Admin sync health and the seat's own page tell the same story: a disconnected seat whose last run was a minute
 * ago is "Disconnected" in the admin's table and "Stopped" on its own page, never "Up to date"; and seat holders
 * with long names stay in their column, the status columns readable on one line.
 */
const DOMAIN = 'health.test';
const LONG_NAME = 'Maximiliane Alexandra Konstantinopoulou-Vandermeersch-Schwarzenberg von Hohenzollern';
const UNBROKEN = 'Bartholomäus-Rumpelstilzchen-Wolkenkuckucksheim-Donaudampfschifffahrt';

let browser: Browser;
let product: Product;
let company: Awaited<ReturnType<typeof createCompany>>;

beforeAll(async () => {
  prepareBrowserTests();
  [browser, product] = await Promise.all([launchBrowser(), startProduct()]);
  const api = product.api;
  company = await createCompany(api, 'Health Recruiting', DOMAIN);
  const c = company;
  await c.json('PUT', `/api/v1/contracts/${c.contract.id}/settings`, { emailProvider: 'google', emailAccess: 'view', calendarEnabled: false });
  const now = api.clock.now();
  const scopes = ['https://www.googleapis.com/auth/gmail.readonly'];
  /** A seat whose mailbox synced a minute ago: incremental, read recently, no error. */
  const synced = async (seatId: string, address: string) => {
    await insertGrant(api, { seatId, contractId: c.contract.id, kind: 'email', provider: 'google', scopes, address });
    const grant = await api.ctx.db.selectFrom('mailbox_authorizations').select('id').where('seat_id', '=', seatId).where('kind', '=', 'email').executeTakeFirstOrThrow();
    await api.ctx.db
      .insertInto('sync_states')
      .values({
        authorization_id: grant.id, contract_id: c.contract.id, seat_id: seatId, phase: 'incremental', cursor: null, checkpoint: null, window_start: null, messages_estimated: 40,
        historical_started_at: new Date(now.getTime() - 3_600_000), historical_completed_at: new Date(now.getTime() - 3_000_000), last_synced_at: new Date(now.getTime() - 60_000),
        last_error: null, last_error_kind: null, updated_at: now, run_lease_id: null, run_lease_until: null, run_lease_kind: null, cursor_provider: 'google', cursor_address: address, cursor_since: null,
      })
      .execute();
    return grant.id;
  };
  // Rita's mailbox synced a minute ago, then was disconnected.
  const rita = await synced(c.seat.id, `rita@${DOMAIN}`);
  await api.ctx.db.updateTable('mailbox_authorizations').set({ state: 'deauthorized', deauthorized_at: now, state_reason: 'user_request' }).where('id', '=', rita).execute();
  // Two colleagues with long names, connected and up to date.
  for (const [name, local] of [[LONG_NAME, 'max'], [UNBROKEN, 'bart']] as const) {
    const user = await c.json('POST', `/api/v1/contracts/${c.contract.id}/users`, { email: `${local}@${DOMAIN}`, name, role: 'recruiter', password: PASSWORD });
    const seat = await c.json('POST', `/api/v1/contracts/${c.contract.id}/seats`, { userId: user.id });
    await synced(seat.id, `${local}@${DOMAIN}`);
  }
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await product?.close();
});

/** The sync-health row of a seat holder. */
const rowOf = (page: Page, name: string) => page.getByRole('row').filter({ has: page.getByRole('rowheader', { name }) });

describe('admin sync health', () => {
  it("agrees with the seat's own page for a disconnected seat, and long names stay in their column", async () => {
    const admin = await openPage(browser);
    await signIn(admin.page, product.url, `admin@${DOMAIN}`);
    const health = admin.page.getByRole('region', { name: 'Sync health' }).last();
    await health.waitFor();
    const ritaRow = rowOf(admin.page, 'Rita Recruiter');
    await expect.poll(() => ritaRow.getByTestId('sync-status').textContent()).toBe('Disconnected');
    expect(await ritaRow.textContent()).not.toMatch(/Up to date|watching/i);
    expect(await ritaRow.textContent()).not.toContain('user_request');
    expect(await rowOf(admin.page, LONG_NAME).getByTestId('sync-status').textContent()).toBe('Up to date');
    expect(await rowOf(admin.page, UNBROKEN).getByTestId('sync-status').textContent()).toBe('Up to date');

    // Long names wrap inside their own cell: nothing of them reaches the next column, and every status is one line.
    for (const width of [1280, 1024]) {
      await admin.page.setViewportSize({ width, height: 900 });
      const layout = await health.evaluate((region) =>
        Array.from(region.querySelectorAll('tbody tr')).map((row) => {
          const name = row.querySelector('th')!;
          const range = document.createRange();
          range.selectNodeContents(name);
          const text = range.getBoundingClientRect();
          const next = row.querySelector('td')!.getBoundingClientRect();
          const status = row.querySelector('[data-testid="sync-status"]')!;
          const lineHeight = parseFloat(getComputedStyle(status).lineHeight);
          return { name: name.textContent, textRight: text.right, cellRight: name.getBoundingClientRect().right, nextLeft: next.left, statusLines: Math.round(status.getBoundingClientRect().height / lineHeight) };
        }),
      );
      for (const row of layout) {
        expect(row.textRight, `${row.name} at ${width}px`).toBeLessThanOrEqual(row.cellRight + 0.5);
        expect(row.cellRight, `${row.name} at ${width}px`).toBeLessThanOrEqual(row.nextLeft + 0.5);
        expect(row.statusLines, `${row.name} at ${width}px`).toBe(1);
      }
    }
    await admin.page.setViewportSize({ width: 1280, height: 900 });
    await screenshot(admin.page, 'admin-sync-health-long-names');
    expect(admin.problems).toEqual([]);
    await admin.context.close();

    // Rita's own page: stopped, not syncing; never "Up to date".
    const own = await openPage(browser);
    await signIn(own.page, product.url, `rita@${DOMAIN}`);
    const phase = own.page.getByTestId('sync-phase');
    await phase.waitFor();
    expect(await phase.textContent()).toBe('Stopped: nothing new syncs until you connect again. Email already synced stays.');
    expect(await own.page.getByText(/Up to date|watching for new email/i).count()).toBe(0);
    expect(own.problems).toEqual([]);
    await own.context.close();
  });
});
