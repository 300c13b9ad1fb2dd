import { describe, expect, it } from 'vitest';
import { sanitizeEmailHtml } from '../../src/sync/ingest/sanitize.ts';
import { remoteImages, splitQuotedHtml, splitQuotedText } from '../../src/web/quoted.ts';

/** The reader folds the quoted tail of a reply and blocks remote images (the Messages tab, src/web/quoted.ts). */
describe('quoted text in plain-text mail', () => {
  it('folds Gmail\'s "On … wrote:" tail, also when the header wraps', () => {
    const text = 'Tuesday works.\n\nCarla\n\nOn Mon, 3 Nov 2026 at 10:02, Rita Recruiter <rita@initech.test> wrote:\n> Can we talk this week?\n> Rita';
    expect(splitQuotedText(text)).toEqual({ body: 'Tuesday works.\n\nCarla', quoted: 'On Mon, 3 Nov 2026 at 10:02, Rita Recruiter <rita@initech.test> wrote:\n> Can we talk this week?\n> Rita' });
    const wrapped = 'Sure.\nOn Mon, 3 Nov 2026 at 10:02, Rita Recruiter\n<rita@initech.test> wrote:\n> Hi';
    expect(splitQuotedText(wrapped).body).toBe('Sure.');
  });

  it('folds Outlook\'s "From: … Sent: …" block and its rule', () => {
    const text = 'Attached is my CV.\n\n________________________________\nFrom: Rita Recruiter <rita@initech.test>\nSent: Monday, November 3, 2026 10:02 AM\nTo: Carla\nSubject: Backend role\n\nCould you send your CV?';
    const split = splitQuotedText(text);
    expect(split.body).toBe('Attached is my CV.');
    expect(split.quoted).toMatch(/^_{10,}\nFrom: Rita/);
    const noRule = 'Thanks!\nFrom: Rita Recruiter\nSent: Monday\nSubject: x\n\nOld text';
    expect(splitQuotedText(noRule)).toEqual({ body: 'Thanks!', quoted: 'From: Rita Recruiter\nSent: Monday\nSubject: x\n\nOld text' });
  });

  it('folds a trailing ">" quote but keeps answers written between quoted lines', () => {
    expect(splitQuotedText('Yes.\n\n> Are you free?\n> R.\n')).toEqual({ body: 'Yes.', quoted: '> Are you free?\n> R.\n' });
    const inline = '> Are you free Monday?\nYes.\n> And Tuesday?\nNo.';
    expect(splitQuotedText(inline)).toEqual({ body: inline, quoted: null });
  });

  it('leaves mail without a quote, or with nothing but a quote, as it is', () => {
    expect(splitQuotedText('Hi Rita,\nwhen can we talk?')).toEqual({ body: 'Hi Rita,\nwhen can we talk?', quoted: null });
    expect(splitQuotedText('From: the past\nSent: long ago\nhello')).toEqual({ body: 'From: the past\nSent: long ago\nhello', quoted: null });
    // "From:" in a sentence is not Outlook's header.
    expect(splitQuotedText('Notes from: the call\nSent you the CV.').quoted).toBeNull();
  });
});

describe('quoted text in HTML mail (as the server sanitised it)', () => {
  it('folds Gmail\'s gmail_quote: header line and blockquote, once sanitised (classes gone)', () => {
    const gmail =
      '<div dir="ltr"><p>Tuesday <b>works</b>.</p></div><br><div class="gmail_quote"><div dir="ltr" class="gmail_attr">On Mon, 3 Nov 2026 at 10:02, Rita &lt;<a href="mailto:rita@initech.test">rita@initech.test</a>&gt; wrote:<br></div><blockquote class="gmail_quote" style="margin:0 0 0 .8ex">Can we talk?</blockquote></div>';
    for (const html of [gmail, sanitizeEmailHtml(gmail)]) {
      const split = splitQuotedHtml(html);
      expect(split.body).toContain('Tuesday <b>works</b>.');
      expect(split.body).not.toContain('wrote');
      expect(split.quoted).toContain('wrote:');
      expect(split.quoted).toContain('Can we talk?');
    }
  });

  it('folds Outlook\'s divRplyFwdMsg block, once sanitised', () => {
    const outlook =
      '<div><p>Attached is my CV.</p></div><hr style="display:inline-block;width:98%"><div id="divRplyFwdMsg" dir="ltr"><font face="Calibri"><b>From:</b> Rita Recruiter &lt;rita@initech.test&gt;<br><b>Sent:</b> Monday, November 3, 2026 10:02<br><b>To:</b> Carla<br><b>Subject:</b> Backend role</font><div>&nbsp;</div></div><div>Could you send your CV?</div>';
    for (const html of [outlook, sanitizeEmailHtml(outlook)]) {
      const split = splitQuotedHtml(html);
      expect(split.body).toContain('Attached is my CV.');
      expect(split.body).not.toContain('From:');
      expect(split.quoted).toContain('<b>Sent:</b>');
      expect(split.quoted).toContain('Could you send your CV?');
    }
  });

  it('folds a trailing blockquote and keeps both halves well formed', () => {
    const html = '<div><p>Yes, Monday.</p><blockquote type="cite"><p>Are you free?</p></blockquote></div>';
    const split = splitQuotedHtml(html);
    expect(split).toEqual({ body: '<div><p>Yes, Monday.</p></div>', quoted: '<div><blockquote type="cite"><p>Are you free?</p></blockquote></div>' });
    const clean = splitQuotedHtml(sanitizeEmailHtml(html));
    expect(clean.body).toBe('<div><p>Yes, Monday.</p></div>');
    expect(clean.quoted).toBe('<div><blockquote><p>Are you free?</p></blockquote></div>');
  });

  it('keeps a blockquote that is followed by the sender\'s own words, and mail with no quote', () => {
    const inline = '<p>About this:</p><blockquote>Are you free?</blockquote><p>Yes I am.</p>';
    expect(splitQuotedHtml(inline)).toEqual({ body: inline, quoted: null });
    const plain = '<p>Hi Rita,</p><p>when can we <b>talk</b>?</p>';
    expect(splitQuotedHtml(plain)).toEqual({ body: plain, quoted: null });
    const onlyQuote = '<blockquote>Old text</blockquote>';
    expect(splitQuotedHtml(onlyQuote)).toEqual({ body: onlyQuote, quoted: null });
  });
});

describe('remote images', () => {
  const stored =
    '<p>Hi</p><img width="1" height="1" data-remote-src="https://tracker.example/p.gif?u=1&amp;v=&quot;2&quot;" /><img alt="logo" data-remote-src="http://cdn.example/logo.png" /><img src="data:image/png;base64,AAAA" />';

  it('counts the stored remote images and leaves them unloaded until asked', () => {
    const { html, count } = remoteImages(stored);
    expect(count).toBe(2);
    expect(html).toBe(stored);
    expect(html).not.toMatch(/\ssrc="https?:/);
  });

  it('points each at the image proxy once the reader asks, with the address exactly as stored', () => {
    const { html, count } = remoteImages(stored, (address) => `/proxy?url=${encodeURIComponent(address)}`);
    expect(count).toBe(2);
    expect(html).toContain(`<img width="1" height="1" src="/proxy?url=${encodeURIComponent('https://tracker.example/p.gif?u=1&v="2"')}" />`);
    expect(html).toContain(`<img alt="logo" src="/proxy?url=${encodeURIComponent('http://cdn.example/logo.png')}" />`);
    expect(html).toContain('<img src="data:image/png;base64,AAAA" />');
    expect(html).not.toContain('data-remote-src');
  });

  it('makes a remote src that reached the HTML some other way inert, shown or not', () => {
    const stray = '<img src="//cdn.example/x.png" srcset="https://a.example/x2.png 2x"><img alt="t" src=\'http://t.example/p.gif\'>';
    const inert = '<img data-blocked-src="//cdn.example/x.png" data-blocked-srcset="https://a.example/x2.png 2x"><img alt="t" data-blocked-src=\'http://t.example/p.gif\'>';
    expect(remoteImages(stray)).toEqual({ html: inert, count: 0 });
    expect(remoteImages(stray, () => '/proxy')).toEqual({ html: inert, count: 0 });
  });
});
