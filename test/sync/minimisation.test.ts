import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accessTokenFor } from '../../src/services/access-tokens.ts';
import { runHistoricalSync } from '../../src/sync/engine.ts';
import type { Database } from '../../src/store/database.ts';
import { backends } from '../helpers/databases.ts';
import { mailboxCompany, startWorld, type World } from './helpers.ts';

/** the headers read to decide a message are the ones the rules use; a subject is not among them. */
describe.each(['google', 'microsoft'] as const)('header facts with %s (R-41)', (provider) => {
  let database: Database;
  let world: World;

  beforeAll(async () => {
    database = await backends[0]!.open();
    world = await startWorld(database);
  });
  afterAll(async () => {
    await world?.close();
    await database?.close();
  });

  it('the facts a decision is made from carry no subject: a message the rules do not let in leaves no text behind', async () => {
    const c = await mailboxCompany(world, provider, 'tiny', `minimal-${provider}`);
    expect(await runHistoricalSync(world.deps, c.grant.id)).toBe('completed');
    const rows = await world.api.ctx.db.selectFrom('ingestion_decisions').select(['provider_message_id', 'ingested']).where('seat_id', '=', c.seat.id).limit(20).execute();
    expect(rows.some((r) => !r.ingested)).toBe(true);
    const token = await accessTokenFor(world.deps, c.grant.id);
    const facts = await world.deps.mail.client(provider).headers(token, rows.map((r) => r.provider_message_id));
    expect(facts.size).toBe(rows.length);
    for (const f of facts.values()) {
      expect(f.from).not.toBe('');
      expect(f.subject ?? null).toBeNull();
    }
    // Stored mail still has its subject, read from its MIME.
    const stored = await world.api.ctx.db.selectFrom('mail_messages').select('subject').where('owner_seat_id', '=', c.seat.id).execute();
    expect(stored.length).toBeGreaterThan(0);
    expect(stored.every((m) => m.subject.length > 0)).toBe(true);
  });
});
