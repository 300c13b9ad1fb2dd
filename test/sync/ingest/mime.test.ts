import { describe, expect, it } from 'vitest';
import { makeSnippet, parseMime } from '../../../src/sync/ingest/mime.ts';
import { htmlToText, LINK_REL, sanitizeEmailHtml } from '../../../src/sync/ingest/sanitize.ts';
import { compose, crlf } from './mail.ts';

describe('MIME parsing of stored messages', () => {
  it('reads a plain-text message: participants, subject, date, ids, text, snippet', async () => {
    const raw = await compose({
      from: '"Carla Candidate" <carla@mail.example>',
      to: 'Rita <rita@acme.test>',
      cc: 'someone@else.example',
      subject: 'Re: Backend role',
      text: 'Hi Rita,\n\nthanks for   reaching out.\n\n> quoted earlier text\nBest, Carla',
      date: new Date('2025-03-04T10:00:00Z'),
      messageId: '<m1@mail.example>',
      inReplyTo: '<m0@acme.test>',
      references: ['<root@acme.test>', '<m0@acme.test>'],
    });
    const parsed = await parseMime(raw);
    expect(parsed.from).toEqual({ address: 'carla@mail.example', name: 'Carla Candidate' });
    expect(parsed.to).toEqual([{ address: 'rita@acme.test', name: 'Rita' }]);
    expect(parsed.cc).toEqual([{ address: 'someone@else.example' }]);
    expect(parsed.subject).toBe('Re: Backend role');
    expect(parsed.date?.toISOString()).toBe('2025-03-04T10:00:00.000Z');
    expect(parsed.rfcMessageId).toBe('<m1@mail.example>');
    expect(parsed.inReplyTo).toBe('<m0@acme.test>');
    expect(parsed.references).toEqual(['<root@acme.test>', '<m0@acme.test>']);
    expect(parsed.bodyHtml).toBeNull();
    expect(parsed.bodyText).toContain('thanks for   reaching out.');
    // Whitespace collapsed, quoted reply lines left out.
    expect(parsed.snippet).toBe('Hi Rita, thanks for reaching out. Best, Carla');
    expect(parsed.attachments).toEqual([]);
    expect(parsed.problems).toEqual([]);
  });

  it('derives the plain text of an HTML-only message from the sanitised HTML', async () => {
    const raw = await compose({ from: 'carla@mail.example', to: 'rita@acme.test', subject: 'HTML', html: '<p>Hello <b>Rita</b> &amp; team</p><p>Second<br>line</p><script>steal()</script>' });
    const parsed = await parseMime(raw);
    expect(parsed.bodyHtml).toBe('<p>Hello <b>Rita</b> &amp; team</p><p>Second<br />line</p>');
    expect(parsed.bodyText).toBe('Hello Rita & team\nSecond\nline');
    expect(parsed.snippet).toBe('Hello Rita & team Second line');
    expect(parsed.bodyText).not.toContain('steal');
  });

  it('keeps both parts of multipart/alternative, the text part as text', async () => {
    const raw = await compose({ from: 'carla@mail.example', to: 'rita@acme.test', subject: 'Both', text: 'Plain version', html: '<div>HTML <i>version</i></div>' });
    expect(raw.toString()).toContain('multipart/alternative');
    const parsed = await parseMime(raw);
    expect(parsed.bodyText).toBe('Plain version');
    expect(parsed.bodyHtml).toBe('<div>HTML <i>version</i></div>');
    expect(parsed.snippet).toBe('Plain version');
  });

  it('lists attachments with name, type and size, never their content', async () => {
    const pdf = Buffer.alloc(1500, 7);
    const raw = await compose({
      from: 'carla@mail.example',
      to: 'rita@acme.test',
      subject: 'CV',
      text: 'Attached.',
      attachments: [
        { filename: 'Carla CV.pdf', content: pdf, contentType: 'application/pdf' },
        { filename: 'Lettre de motivation – Élodie.txt', content: 'Bonjour', contentType: 'text/plain' },
      ],
    });
    const parsed = await parseMime(raw);
    expect(parsed.attachments).toEqual([
      { filename: 'Carla CV.pdf', contentType: 'application/pdf', sizeBytes: 1500 },
      { filename: 'Lettre de motivation – Élodie.txt', contentType: 'text/plain', sizeBytes: 7 },
    ]);
    expect(Object.keys(parsed.attachments[0]!)).toEqual(['filename', 'contentType', 'sizeBytes']);
    expect(parsed.bodyText).toBe('Attached.');
  });

  it('decodes RFC 2047 subjects and display names', async () => {
    const raw = crlf(
      'From: =?UTF-8?B?Sm9zw6kgTcO8bGxlcg==?= <jose@mail.example>',
      'To: =?ISO-8859-1?Q?Ren=E9e?= <renee@acme.test>',
      'Subject: =?UTF-8?Q?Entretien_=E2=80=93_caf=C3=A9_?= =?UTF-8?B?4pyT?=',
      'Date: Tue, 04 Mar 2025 10:00:00 +0100',
      'Message-ID: <x1@mail.example>',
      'Content-Type: text/plain; charset=utf-8',
      'Content-Transfer-Encoding: 8bit',
      '',
      'Grüße aus Köln',
    );
    const parsed = await parseMime(raw);
    expect(parsed.from).toEqual({ address: 'jose@mail.example', name: 'José Müller' });
    expect(parsed.to).toEqual([{ address: 'renee@acme.test', name: 'Renée' }]);
    expect(parsed.subject).toBe('Entretien – café ✓');
    expect(parsed.date?.toISOString()).toBe('2025-03-04T09:00:00.000Z');
    expect(parsed.bodyText).toBe('Grüße aus Köln');
  });

  it('stores what it can of malformed MIME and says what it could not read', async () => {
    // A multipart whose closing boundary never comes and whose Date is nonsense.
    const truncated = crlf(
      'From: carla@mail.example',
      'To: rita@acme.test',
      'Subject: Broken',
      'Date: the day after tomorrow',
      'Content-Type: multipart/mixed; boundary="XYZ"',
      '',
      '--XYZ',
      'Content-Type: text/plain',
      '',
      'Readable part',
    );
    const a = await parseMime(truncated);
    expect(a.subject).toBe('Broken');
    expect(a.bodyText).toBe('Readable part');
    expect(a.date).toBeNull();
    expect(a.problems).toEqual(['The Date header could not be read; the mailbox’s own date of the message is used.']);

    // Nesting beyond any real mail: the body is refused, the headers are still read.
    let nested = 'Content-Type: text/plain\r\n\r\ndeep';
    for (let i = 0; i < 60; i++) nested = `Content-Type: multipart/mixed; boundary="b${i}"\r\n\r\n--b${i}\r\n${nested}\r\n--b${i}--`;
    const deep = await parseMime(Buffer.from(`From: carla@mail.example\r\nTo: rita@acme.test\r\nSubject: Deep\r\nMessage-ID: <deep@mail.example>\r\n${nested}`));
    expect(deep.subject).toBe('Deep');
    expect(deep.rfcMessageId).toBe('<deep@mail.example>');
    expect(deep.from).toEqual({ address: 'carla@mail.example' });
    expect(deep.bodyText).toBeNull();
    expect(deep.problems).toHaveLength(1);
    expect(deep.problems[0]).toMatch(/^The message body could not be parsed \(.+\); it is stored with its headers only\.$/);

    // No headers at all, and nothing at all: never a throw.
    const headless = await parseMime(Buffer.from('\r\n\r\njust some bytes'));
    expect(headless.from).toBeNull();
    expect(headless.problems.length).toBeGreaterThan(0);
    const empty = await parseMime(Buffer.alloc(0));
    expect(empty.problems).toEqual(['The message content was empty; it is stored with its header facts only.']);
  });

  it('cuts long snippets at a word, near 200 characters', () => {
    const snippet = makeSnippet(`${'word '.repeat(100)}`);
    expect(snippet.length).toBeLessThanOrEqual(201);
    expect(snippet.endsWith('word…')).toBe(true);
    expect(makeSnippet('  short \n\n text ')).toBe('short text');
  });
});

describe('HTML sanitiser', () => {
  const clean = sanitizeEmailHtml;

  it('drops scripts, styles, event handlers, iframes and forms', () => {
    const out = clean(
      '<style>p{color:red}</style><p onclick="evil()" onmouseover="x()" style="color:red">Hi<script>alert(1)</script></p>' +
        '<iframe src="https://evil.example/frame">frame text</iframe><form action="https://evil.example"><input name="pw"><button>Send</button></form>' +
        '<object data="x.swf"></object><embed src="x.swf"><svg onload="x()"><circle /></svg>',
    );
    expect(out).toBe('<p>Hi</p>Send');
    for (const bad of ['script', 'style', 'onclick', 'onmouseover', 'iframe', 'form', 'input', 'object', 'embed', 'svg', 'color:red']) expect(out).not.toContain(bad);
  });

  it('removes onerror and other handlers on images, and javascript: and data: links', () => {
    const out = clean(
      '<img src="x" onerror="alert(1)" alt="x-alt"><a href="javascript:alert(1)">js</a><a href="JaVaScRiPt&colon;alert(1)">js2</a>' +
        '<a href=" javascript:alert(1)">js3</a><a href="data:text/html;base64,PHNjcmlwdD4=">data</a><a href="vbscript:x">vb</a>',
    );
    expect(out).not.toMatch(/onerror|javascript|data:|vbscript|alert/i);
    expect(out).toContain('x-alt');
    expect(out).toContain('>js</a>');
  });

  it('keeps remote image addresses only where no browser loads them, and inline data: images', () => {
    const out = clean('<p><img src="https://tracker.example/open.gif?u=1" alt="Company logo" width="1"><img src="http://x.example/a.png" srcset="http://x.example/b.png 2x"><img src="cid:part1@x" alt="inline part"></p>' + '<img src="data:image/png;base64,iVBORw0KGgo=" alt="dot"><img src="data:image/svg+xml;base64,PHN2Zz4=" alt="vector">');
    expect(out).toBe(
      '<p><img alt="Company logo" width="1" data-remote-src="https://tracker.example/open.gif?u=1" /><img data-remote-src="http://x.example/a.png" /><span>inline part</span></p>' +
        '<img src="data:image/png;base64,iVBORw0KGgo=" alt="dot" /><span>vector</span>',
    );
    expect(out).not.toMatch(/\ssrc="https?:|srcset/);
  });

  it('keeps https and mailto links, adds rel and target, drops other schemes and relative URLs', () => {
    const out = clean('<a href="https://jobs.example/role" target="_self" rel="opener">role</a> <a href="mailto:rita@acme.test">mail</a> <a href="http://plain.example">http</a> <a href="//proto.example">rel</a> <a href="ftp://f.example">ftp</a>');
    expect(out).toContain(`<a rel="${LINK_REL}" target="_blank" href="https://jobs.example/role">role</a>`);
    expect(out).toContain(`<a rel="${LINK_REL}" target="_blank" href="mailto:rita@acme.test">mail</a>`);
    expect(out).not.toMatch(/http:|\/\/proto|ftp:|opener"|_self/);
  });

  it('keeps conservative formatting: lists, tables, quotes', () => {
    const html = '<blockquote><ul><li>one</li></ul><table><tr><td colspan="2">cell</td></tr></table></blockquote>';
    expect(clean(html)).toBe('<blockquote><ul><li>one</li></ul><table><tr><td colspan="2">cell</td></tr></table></blockquote>');
    expect(htmlToText(clean(html))).toBe('one\ncell');
  });
});
