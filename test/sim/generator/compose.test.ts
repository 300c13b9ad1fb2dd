import { describe, expect, it } from 'vitest';
import PostalMime from 'postal-mime';
import { composeRaw, normalizeAddress, toDeliverInputs } from '../../../sim/generator/index.ts';
import { generate } from './fixtures.ts';

const tiny = generate('tiny');

function bare(header: string): string {
  const angle = /<([^>]+)>\s*$/.exec(header);
  return normalizeAddress(angle ? angle[1]! : header);
}

describe('composed MIME', () => {
  it('round-trips every tiny message through a MIME parser: addresses, encoded subject, ids, date, bodies, attachments', async () => {
    for (const m of tiny.messages) {
      const raw = await composeRaw(m);
      expect(raw.every((byte) => byte < 0x80)).toBe(true); // 7-bit clean: RFC 2047 / QP / base64
      const parsed = await PostalMime.parse(raw);
      expect(normalizeAddress(parsed.from?.address ?? '')).toBe(bare(m.from));
      expect((parsed.to ?? []).map((a) => normalizeAddress(a.address ?? ''))).toEqual(m.to.map(bare));
      expect((parsed.cc ?? []).map((a) => normalizeAddress(a.address ?? ''))).toEqual(m.cc.map(bare));
      expect((parsed.bcc ?? []).map((a) => normalizeAddress(a.address ?? ''))).toEqual(m.bcc.map(bare));
      expect(parsed.subject).toBe(m.subject);
      expect(parsed.messageId).toBe(m.messageId);
      expect(parsed.inReplyTo ?? undefined).toBe(m.inReplyTo);
      expect(new Date(parsed.date!).toISOString()).toBe(m.date);
      if (m.text !== undefined) expect(parsed.text?.trim()).toBe(m.text.trim());
      if (m.html !== undefined) expect(parsed.html?.trim()).toBe(m.html.trim());
      expect(parsed.attachments.map((a) => a.filename)).toEqual((m.attachments ?? []).map((a) => a.filename));
    }
    const zoe = await PostalMime.parse(await composeRaw(tiny.messages.find((m) => m.key === 'tiny-01')!));
    expect(zoe.to?.[0]?.name).toBe('Zoë Brandt');
    expect(zoe.to?.[0]?.address).toBe('Zoe.Brandt+jobs@gmail.com'); // local part as written
  });

  it('is reproducible byte for byte', async () => {
    const a = await toDeliverInputs(tiny.messages);
    const b = await toDeliverInputs(generate('tiny').messages);
    expect(b).toEqual(a);
    expect(a.map((x) => x.threadKey)).toEqual(tiny.messages.map((m) => m.threadKey));
    expect(a.map((x) => x.folder)).toEqual(tiny.messages.map((m) => m.folder));
  });
});
