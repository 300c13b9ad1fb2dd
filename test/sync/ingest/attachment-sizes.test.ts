/**
 * The product keeps an attachment's name, type and size, never its content, so the parser runs with
 * `attachmentSizesOnly` (patches/postal-mime+4.0.0.patch): the content of an image, document or archive part is
 * measured, not decoded. The measured size must be the byte length the released parser decodes, for broken
 * encodings too, and everything else about the message must be what the released parser reads.
 */
import fs from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import PostalMime, { type Email } from 'postal-mime';
import Unpatched from 'postal-mime-unpatched';
import { describe, expect, it } from 'vitest';
import { realisticMime } from '../../../bench/realistic-mail.ts';
import { composeRaw, generateMailbox } from '../../../sim/generator/index.ts';
import { parseMime } from '../../../src/sync/ingest/mime.ts';
import { crlf } from './mail.ts';

const byteLength = (content: Email['attachments'][number]['content']) => (typeof content === 'string' ? Buffer.byteLength(content) : content.byteLength);

/** Parses with sizes only and with the released parser; the two agree on everything but the measured content. */
async function expectMeasuredAsDecoded(raw: Uint8Array, label: string): Promise<number> {
  const settle = <T>(p: Promise<T>) => p.then((value) => ({ value }), (error: unknown) => ({ error: String(error) }));
  const [measured, released] = await Promise.all([settle(PostalMime.parse(raw, { attachmentSizesOnly: true })), settle(Unpatched.parse(raw))]);
  if (!('value' in measured) || !('value' in released)) {
    expect(measured, `${label}: outcome`).toEqual(released);
    return 0;
  }
  const a = measured.value;
  const b = released.value;
  expect(a.attachments.length, `${label}: attachments`).toBe(b.attachments.length);
  let sizesOnly = 0;
  a.attachments.forEach((attachment, i) => {
    const original = b.attachments[i]!;
    const { content, size, ...facts } = attachment;
    const { content: originalContent, ...originalFacts } = original;
    expect(facts, `${label}: attachment ${i}`).toEqual(originalFacts);
    if (size !== undefined) {
      sizesOnly++;
      expect(byteLength(content), `${label}: attachment ${i} keeps no content`).toBe(0);
      expect(size, `${label}: attachment ${i} (${original.mimeType}) size`).toBe(byteLength(originalContent));
    } else {
      expect([...new Uint8Array(content as ArrayBuffer)], `${label}: attachment ${i} content`).toEqual([...new Uint8Array(originalContent as ArrayBuffer)]);
    }
  });
  expect({ ...a, attachments: [] }, `${label}: the rest of the message`).toEqual({ ...b, attachments: [] });
  return sizesOnly;
}

describe('attachment sizes measured without decoding the content', () => {
  it('equal the decoded sizes on broken base64, quoted-printable and unencoded attachments', async () => {
    const cases = [
      // base64: padding inside the body, per-line padding, junk characters and bytes, a dangling character
      crlf('Content-Transfer-Encoding: base64', 'Content-Type: application/pdf', '', 'QQ==QkM=', 'RA==', 'R U*J-D#\u00e9', 'SGVsbG8', 'gd29ybGQ', 'Q'),
      crlf('Content-Transfer-Encoding: base64', 'Content-Type: image/png', '', 'SGVsbG8', 'gd29ybG', 'Q'),
      crlf('Content-Transfer-Encoding: base64', 'Content-Type: image/png', '', 'SGVsbG8=', '=', '==='),
      crlf('Content-Type: multipart/mixed; boundary=B', '', '--B', 'Content-Type: application/pdf', 'Content-Transfer-Encoding: base64', '', 'SGVs', 'bG8-gd29y', '-bGQ=', 'SGVs', '--B--', ''),
      Buffer.from('Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\nSGVs\xff\xfebG8=\r\n', 'latin1'),
      // quoted-printable: soft breaks, invalid and cut escapes, a lone '=' at the end, lower-case hex
      crlf('Content-Type: application/octet-stream', 'Content-Transfer-Encoding: quoted-printable', '', 'caf=E9 =3D =ZZ =4', 'soft=', 'break=3d=', '=', 'end=0', '==41=', '=4=41'),
      // unencoded: bare CR, LF-only lines, no final newline, an empty part
      Buffer.from('Subject: cr\nContent-Type: application/zip\nContent-Transfer-Encoding: binary\n\nline one\r\r\nline\rtwo\nlast\r', 'latin1'),
      crlf('Content-Type: multipart/mixed; boundary=X', '', '--X', 'Content-Type: text/plain', '', 'body', '--X', 'Content-Type: image/gif', 'Content-Transfer-Encoding: base64', '', '--X', 'Content-Type: application/pdf; name=a.pdf', '', 'raw', '--X--'),
    ];
    let measured = 0;
    for (const [i, raw] of cases.entries()) measured += await expectMeasuredAsDecoded(raw, `case #${i}`);
    expect(measured).toBe(cases.length + 1);
  });

  it('keeps decoding the parts it must read: text, calendar and nested messages', async () => {
    const raw = crlf(
      'Content-Type: multipart/mixed; boundary=X',
      '',
      '--X',
      'Content-Type: text/plain',
      'Content-Disposition: attachment; filename=notes.txt',
      'Content-Transfer-Encoding: base64',
      '',
      'bm90ZXM=',
      '--X',
      'Content-Type: text/calendar; method=request',
      '',
      'BEGIN:VCALENDAR',
      'END:VCALENDAR',
      '--X',
      'Content-Type: message/rfc822',
      'Content-Disposition: attachment',
      '',
      'Subject: inner',
      '',
      'inner body',
      '--X--',
    );
    expect(await expectMeasuredAsDecoded(raw, 'kept parts')).toBe(0);
  });

  it('on generated attachments in every transfer encoding', async () => {
    const line = fc.oneof(
      fc.string({ unit: fc.constantFrom('A', 'b', '9', '+', '/', '=', ' ', '\t', '*', 'é', '='), maxLength: 90 }),
      fc.string({ unit: fc.constantFrom('a', '=', '3', 'D', 'f', 'F', 'z', ' ', '\r', '0'), maxLength: 90 }),
      fc.string({ maxLength: 90 }),
    );
    const part = fc.record({
      encoding: fc.constantFrom('base64', 'quoted-printable', '7bit', '8bit', 'binary', 'x-unknown'),
      type: fc.constantFrom('application/pdf', 'image/png; name="logo.png"', 'application/octet-stream', 'audio/ogg'),
      lines: fc.array(line, { maxLength: 40 }),
      eol: fc.constantFrom('\r\n', '\n', '\r\r\n'),
      multipart: fc.boolean(),
    });
    await fc.assert(
      fc.asyncProperty(part, async ({ encoding, type, lines, eol, multipart }) => {
        const body = [`Content-Type: ${type}`, `Content-Transfer-Encoding: ${encoding}`, '', ...lines];
        const text = multipart
          ? ['Subject: fuzz', 'Content-Type: multipart/mixed; boundary="b1"', '', '--b1', 'Content-Type: text/plain', '', 'first', '--b1', ...body, '--b1--'].join(eol)
          : ['Subject: fuzz', ...body].join(eol);
        await expectMeasuredAsDecoded(Buffer.from(text, 'utf8'), 'generated');
      }),
      { numRuns: 300 },
    );
  });

  it("on the ingest benchmark's mail (signature images, CVs) and the CPython corpus, and the product stores those sizes", async () => {
    const generated = generateMailbox({ seed: 'sizes', owner: { address: 'rita@acme.test', name: 'Rita Recruiter' }, companyDomain: 'acme.test', now: new Date('2026-11-01T12:00:00Z'), size: 24 });
    let measured = 0;
    for (const m of generated.messages.slice(0, 24)) {
      const raw = realisticMime(await composeRaw(m), m.key);
      measured += await expectMeasuredAsDecoded(raw, `realistic ${m.key}`);
      const released = await Unpatched.parse(raw);
      expect((await parseMime(raw)).attachments.map((a) => a.sizeBytes)).toEqual(released.attachments.map((a) => byteLength(a.content)));
    }
    expect(measured).toBeGreaterThan(0);
    const dir = path.resolve('bench/corpus/cpython');
    for (const file of fs.readdirSync(dir).filter((f) => f.startsWith('msg_'))) await expectMeasuredAsDecoded(fs.readFileSync(path.join(dir, file)), file);
  });
});
