import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSimState } from '../../../sim/core/state.ts';
import { startSimulators } from '../../../sim/server.ts';
import { loadIntoSimulator, loadViaControlApi, normalizeAddress, type GeneratedMailbox, type ProviderIds } from '../../../sim/generator/index.ts';
import type { MailStore } from '../../../sim/core/mail.ts';
import { generate, NOW, OWNER } from './fixtures.ts';

function checkLoaded(mail: MailStore, address: string, generated: GeneratedMailbox, ids: Map<string, ProviderIds>): void {
  expect(ids.size).toBe(generated.messages.length);
  expect(mail.messages(address)).toHaveLength(generated.messages.length);
  expect(new Set([...ids.values()].map((x) => x.id)).size).toBe(ids.size);
  const threadOf = new Map<string, string>();
  for (const m of generated.messages) {
    const got = ids.get(m.key)!;
    expect(got.messageId).toBe(m.messageId);
    const stored = mail.message(address, got.id)!;
    expect(stored.folder).toBe(m.folder);
    expect(stored.internalDate.toISOString()).toBe(m.date);
    expect(stored.headers.subject).toBe(m.subject);
    expect(stored.headers.inReplyTo ?? undefined).toBe(m.inReplyTo);
    expect(normalizeAddress(stored.headers.from!.address)).toBe(normalizeAddress(/<([^>]+)>$/.exec(m.from)?.[1] ?? m.from));
    expect(stored.headers.cc.length + stored.headers.bcc.length).toBe(m.cc.length + m.bcc.length);
    const known = threadOf.get(m.threadKey);
    if (known) expect(got.threadId).toBe(known);
    else threadOf.set(m.threadKey, got.threadId);
  }
  // One provider thread per generated thread, and no two generated threads merged.
  expect(new Set(threadOf.values()).size).toBe(threadOf.size);
}

describe('loading into a simulator', () => {
  it('in process, through state.mail.deliverMany (Google ids: a thread is named after its first message)', async () => {
    const state = createSimState({ now: NOW });
    const tiny = generate('tiny');
    const ids = await loadIntoSimulator(state, { provider: 'google' }, tiny);
    checkLoaded(state.mail, OWNER.address, tiny, ids);
    expect(state.mail.mailbox(OWNER.address)!.aliases).toEqual(OWNER.aliases);
    for (const m of tiny.messages) {
      const got = ids.get(m.key)!;
      const first = tiny.messages.find((x) => x.threadKey === m.threadKey)!;
      expect(got.threadId).toBe(ids.get(first.key)!.id);
    }
    // What a sync test does with it: the oracle by provider message id.
    const expectedById = new Map(tiny.messages.map((m) => [ids.get(m.key)!.id, m.expected]));
    expect([...expectedById.values()].filter((e) => e.ingested)).toHaveLength(tiny.messages.filter((m) => m.expected.ingested).length);
  });

  it('in process, a 120-message mailbox on Microsoft into an existing mailbox given by address', async () => {
    const state = createSimState({ now: NOW });
    state.mail.createMailbox({ provider: 'microsoft', address: OWNER.address, aliases: OWNER.aliases });
    const mailbox = generate(120);
    const ids = await loadIntoSimulator(state, OWNER.address, mailbox, { chunk: 50 });
    checkLoaded(state.mail, OWNER.address, mailbox, ids);
    await expect(loadIntoSimulator(state, 'nobody@northwind.example', mailbox)).rejects.toThrow(/no mailbox/);
  });

  describe('remotely, through the control API', () => {
    let sim: Awaited<ReturnType<typeof startSimulators>>;
    beforeAll(async () => {
      sim = await startSimulators({ port: 0, now: NOW });
    });
    afterAll(async () => {
      await sim.close();
    });

    it('in bulk', async () => {
      const mailbox = generate(150);
      const ids = await loadViaControlApi(sim.url, { provider: 'google' }, mailbox, { chunk: 60 });
      checkLoaded(sim.state.mail, OWNER.address, mailbox, ids);
    });

    it('one message per request, into a mailbox created under another address', async () => {
      const tiny = generate('tiny', { owner: { address: 'sam@northwind.example', name: 'Sam Sourcer' } });
      const ids = await loadViaControlApi(sim.url, { provider: 'microsoft' }, tiny, { bulk: false });
      checkLoaded(sim.state.mail, 'sam@northwind.example', tiny, ids);
      // The mailbox exists now: loading again reuses it and appends.
      const again = await loadViaControlApi(sim.url, { provider: 'microsoft' }, tiny);
      expect(sim.state.mail.messages('sam@northwind.example')).toHaveLength(2 * tiny.messages.length);
      expect(again.size).toBe(tiny.messages.length);
    });
  });
});
