/**
 * The MIME parser runs with a patch (patches/postal-mime+4.0.0.patch: decoders write into one growing buffer
 * instead of joining chunks through a Blob, base64 is decoded from the bytes, body lines are handled without a
 * promise each). The patch must not change a single parse result: every message here is parsed by the patched
 * parser and by the unpatched 4.0.0 release (installed beside it as `postal-mime-unpatched`), and both the
 * parser's own output (bodies, headers, attachment bytes) and the product's ParsedMessage must be identical.
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import fc from 'fast-check';
import PostalMime, { type Email } from 'postal-mime';
import Unpatched from 'postal-mime-unpatched';
import { describe, expect, it } from 'vitest';
import { realisticMime } from '../../../bench/realistic-mail.ts';
import { composeRaw, generateMailbox } from '../../../sim/generator/index.ts';
import { makeSnippet, parseMime, parseMimeWith } from '../../../src/sync/ingest/mime.ts';
import { compose, crlf } from './mail.ts';

const unpatched = (raw: Uint8Array, options: Parameters<typeof Unpatched.parse>[1]) => Unpatched.parse(raw, options);

/** The parser's output with attachment contents as plain byte arrays, so that a deep comparison sees every byte. */
function comparable(email: Email): unknown {
  return {
    ...email,
    attachments: email.attachments.map((a) => ({ ...a, content: typeof a.content === 'string' ? a.content : [...new Uint8Array(a.content instanceof ArrayBuffer ? a.content : a.content.buffer)] })),
  };
}

async function expectSameParse(raw: Uint8Array, label: string): Promise<void> {
  const settle = <T>(p: Promise<T>) => p.then((value) => ({ value }), (error: unknown) => ({ error: String(error) }));
  const [patched, original] = await Promise.all([settle(PostalMime.parse(raw)), settle(Unpatched.parse(raw))]);
  const view = (r: { value: Email } | { error: string }) => ('value' in r ? comparable(r.value) : r);
  expect(view(patched), `${label}: parser output`).toEqual(view(original));
  expect(await parseMime(raw), `${label}: ParsedMessage`).toEqual(await parseMimeWith(unpatched, raw));
}

const corpusDir = path.resolve('bench/corpus/cpython');
const cpython = fs.readdirSync(corpusDir).filter((f) => f.startsWith('msg_')).sort();

const pixel = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==', 'base64');

describe('the patched MIME parser reads every message exactly as the released one', () => {
  it('is the patched build (the install step applied patches/)', () => {
    const dir = path.dirname(createRequire(import.meta.url).resolve('postal-mime/package.json'));
    expect(fs.existsSync(path.join(dir, 'dist/esm/byte-buffer.js'))).toBe(true);
    expect(fs.readFileSync(path.join(dir, 'dist/esm/qp-decoder.js'), 'utf8')).not.toContain('Blob');
  });

  it('on the CPython email test corpus', async () => {
    expect(cpython.length).toBeGreaterThanOrEqual(10);
    for (const file of cpython) await expectSameParse(fs.readFileSync(path.join(corpusDir, file)), file);
  });

  it('on recruiting mail: HTML with a text alternative, quoted reply, inline signature image, CV attachment, encoded names', async () => {
    const html = `<table style="width:600px">${Array.from({ length: 400 }, (_, i) => `<tr><td style="color:#333">Zürich café – “role” ${i} <a href="https://jobs.example/r?a=1&amp;b=${i}">apply</a></td></tr>`).join('\n')}</table><img src="cid:sig@x">`;
    const cv = Buffer.alloc(150_000);
    for (let i = 0; i < cv.length; i++) cv[i] = (i * 7919 + (i >> 8)) & 0xff;
    const messages = [
      await compose({
        from: '"Zoë Ångström" <zoe@mail.example>',
        to: ['Rita Recruiter <rita@acme.test>', '"Team, Hiring" <hiring@acme.test>'],
        cc: 'Ærø <aero@mail.example>',
        subject: 'Re: Senior backend role – next steps 🚀',
        text: `Hi Rita,\n\nThursday works.\n\nOn Tue, Rita wrote:\n${Array.from({ length: 40 }, (_, i) => `> line ${i} of the earlier message, naïve résumé`).join('\n')}`,
        html,
        date: new Date('2026-03-04T10:00:00Z'),
        messageId: '<reply-1@mail.example>',
        inReplyTo: '<first@acme.test>',
        references: ['<root@acme.test>', '<first@acme.test>'],
        attachments: [
          { filename: 'logo.png', content: pixel, cid: 'sig@x', contentType: 'image/png' },
          { filename: 'Lebenslauf Zoë.pdf', content: cv, contentType: 'application/pdf' },
          { filename: 'notes.txt', content: 'plain attachment\r\nsecond line', contentType: 'text/plain' },
        ],
      }),
      await compose({ from: 'a@b.example', to: 'rita@acme.test', subject: 'HTML only', html: '<p>Hello</p>'.repeat(5000) }),
      await compose({ from: 'a@b.example', to: 'rita@acme.test', subject: 'base64 text', text: 'ẞ'.repeat(20_000), textEncoding: 'base64' }),
      await compose({ from: 'a@b.example', to: 'rita@acme.test', subject: 'QP text', text: `${'x'.repeat(300)}=\n${'é'.repeat(500)}\n`, textEncoding: 'quoted-printable' }),
    ];
    for (const [i, raw] of messages.entries()) await expectSameParse(raw, `composed #${i}`);
  });

  it("on the ingest benchmark's realistic recruiting mail", async () => {
    const generated = generateMailbox({ seed: 'equivalence', owner: { address: 'rita@acme.test', name: 'Rita Recruiter' }, companyDomain: 'acme.test', now: new Date('2026-11-01T12:00:00Z'), size: 24 });
    for (const m of generated.messages.slice(0, 24)) await expectSameParse(realisticMime(await composeRaw(m), m.key), `realistic ${m.key}`);
  });

  it('on hand-written edge cases of the three decoders', async () => {
    const cases = [
      // base64: padding inside the body, per-line padding, junk characters and bytes, a dangling character
      crlf('Content-Transfer-Encoding: base64', 'Content-Type: application/octet-stream', '', 'QQ==QkM=', 'RA==', 'R U*J-D#\u00e9', 'SGVsbG8', 'gd29ybGQ', 'Q'),
      crlf('Content-Type: text/plain; charset=utf-8', 'Content-Transfer-Encoding: base64', '', 'w6k=w6k=', 'w6', 'k'),
      Buffer.concat([Buffer.from('Content-Transfer-Encoding: base64\r\n\r\nSGVs\xff\xfebG8=\r\n', 'latin1')]),
      // base64 read in runs of lines: a '-' inside a line and at a line start (not a boundary), a boundary
      // right after the body, a body that runs to the end of the message with and without a final line break
      crlf('Content-Type: multipart/mixed; boundary=B', '', '--B', 'Content-Type: application/pdf', 'Content-Transfer-Encoding: base64', '', 'SGVs', 'bG8-gd29y', '-bGQ=', 'SGVs', '--B--', ''),
      crlf('Content-Type: multipart/mixed; boundary=B', '', '--B', 'Content-Type: text/plain', 'Content-Transfer-Encoding: base64', '', 'w6k=', 'w6k', '--B', 'Content-Type: image/png', 'Content-Transfer-Encoding: base64', '', 'SGVsbG8', 'gd29ybGQ'),
      Buffer.from('Content-Type: application/zip\nContent-Transfer-Encoding: base64\n\nSGVsbG8\ngd29ybGQ=\nSGVs\n', 'latin1'),
      Buffer.from('Content-Transfer-Encoding: base64\r\n\r\nSGVs\r\n\r\nbG8=', 'latin1'),
      // quoted-printable: soft breaks, invalid and cut escapes, a lone '=' at the end, lower-case hex
      crlf('Content-Type: text/plain; charset=iso-8859-1', 'Content-Transfer-Encoding: quoted-printable', '', 'caf=E9 =3D =ZZ =4', 'soft=', 'break=3d=', '=', 'end=0'),
      // pass-through: bare CR inside a line, CR runs before LF, no final newline, LF-only lines
      Buffer.from('Subject: cr\nContent-Type: text/plain\n\nline one\r\r\nline\rtwo\nlast without newline\r', 'latin1'),
      // multipart with preamble, epilogue, an empty part and a terminator on the last byte
      crlf('Content-Type: multipart/mixed; boundary=X', '', 'preamble', '--X', '', '--X', 'Content-Type: text/html', 'Content-Transfer-Encoding: quoted-printable', '', '<p>a=3Db</p>=', '--X--', 'epilogue', '--X--'),
      Buffer.alloc(0),
      Buffer.from('\r\n\r\n'),
    ];
    for (const [i, raw] of cases.entries()) await expectSameParse(raw, `edge case #${i}`);
  });

  it('on a message given as a view into a larger buffer (read in place, never past its ends)', async () => {
    const message = crlf('Subject: view', 'Content-Type: multipart/mixed; boundary=X', '', '--X', 'Content-Type: text/plain', '', 'inside', '--X', 'Content-Type: application/pdf', 'Content-Transfer-Encoding: base64', '', 'SGVsbG8=', '--X--');
    const before = crlf('Subject: neighbour before', '', 'not this one', '');
    const after = crlf('', '--X', 'Content-Type: text/plain', '', 'nor this', '--X--');
    const larger = Buffer.concat([before, message, after]);
    const view = larger.subarray(before.length, before.length + message.length);
    await expectSameParse(view, 'view');
    expect((await PostalMime.parse(view)).text).toBe('inside\n');
    expect(larger.equals(Buffer.concat([before, message, after])), 'the caller’s bytes are left as they were').toBe(true);
  });

  it('on generated bodies in every transfer encoding, and on damaged copies of the corpus', async () => {
    const line = fc.oneof(
      fc.string({ unit: fc.constantFrom('A', 'b', '9', '+', '/', '=', ' ', '\t', '*', 'é', '='), maxLength: 90 }),
      fc.string({ unit: fc.constantFrom('a', '=', '3', 'D', 'f', 'F', 'z', ' ', '\r', '0'), maxLength: 90 }),
      fc.string({ maxLength: 90 }),
    );
    const body = fc.record({
      encoding: fc.constantFrom('base64', 'quoted-printable', '7bit', '8bit', 'binary'),
      type: fc.constantFrom('text/plain; charset=utf-8', 'text/html; charset=iso-8859-1', 'application/pdf', 'text/plain; format=flowed; delsp=yes'),
      lines: fc.array(line, { maxLength: 40 }),
      eol: fc.constantFrom('\r\n', '\n', '\r\r\n'),
      multipart: fc.boolean(),
    });
    await fc.assert(
      fc.asyncProperty(body, async ({ encoding, type, lines, eol, multipart }) => {
        const part = [`Content-Type: ${type}`, `Content-Transfer-Encoding: ${encoding}`, '', ...lines];
        const text = multipart
          ? ['Subject: fuzz', 'Content-Type: multipart/mixed; boundary="b1"', '', '--b1', ...part, '--b1', 'Content-Type: text/plain', '', 'second', '--b1--'].join(eol)
          : ['Subject: fuzz', ...part].join(eol);
        await expectSameParse(Buffer.from(text, 'utf8'), 'generated');
      }),
      { numRuns: 200 },
    );
    const corpus = cpython.map((f) => fs.readFileSync(path.join(corpusDir, f)));
    await fc.assert(
      fc.asyncProperty(fc.nat(corpus.length - 1), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }), async (which, edits) => {
        const raw = Buffer.from(corpus[which]!);
        for (const [at, byte] of edits) raw[at % raw.length] = byte;
        await expectSameParse(raw, `damaged ${cpython[which]}`);
      }),
      { numRuns: 200 },
    );
  });
});

describe('the snippet reads only the opening of the text', () => {
  /** The snippet as defined: every line split off, quoted lines dropped, all of it collapsed, then cut. */
  function wholeTextSnippet(text: string, max: number): string {
    const collapsed = text.split(/\r?\n/).filter((line) => !/^\s*>/.test(line)).join(' ').replace(/\s+/g, ' ').trim();
    if (collapsed.length <= max) return collapsed;
    const cut = collapsed.slice(0, max);
    const space = cut.lastIndexOf(' ');
    return `${(space > max * 0.6 ? cut.slice(0, space) : cut).trimEnd()}…`;
  }

  it('and still gives the snippet of the whole text', () => {
    const piece = fc.oneof(fc.constantFrom('\n', '\r\n', '\r', ' ', '\t', '> ', '  >', 'word', 'é', '\u00a0', '\u2028', ''), fc.string({ maxLength: 30 }));
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 300 }), fc.integer({ min: 1, max: 250 }), (pieces, max) => {
        const text = pieces.join('');
        expect(makeSnippet(text, max)).toBe(wholeTextSnippet(text, max));
      }),
      { numRuns: 2000 },
    );
    const long = `${'> quoted\n'.repeat(50)}${'Hello Rita,  thanks\r\n'.repeat(2000)}`;
    expect(makeSnippet(long)).toBe(wholeTextSnippet(long, 200));
  });
});
