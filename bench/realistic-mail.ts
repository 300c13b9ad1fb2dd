/**
 * Realistic MIME for the ingest benchmark: the generated mailbox's messages keep their headers (addresses, dates,
 * Message-ID, In-Reply-To, References, subject: what the rules decide on) and get a body shaped like real recruiting
 * mail. The distribution is documented in bench/README.md ("Ingest throughput"); every choice is drawn from a seeded
 * random stream keyed by the message's provider id, so the same mailbox always yields the same bytes.
 */
import { createHash } from 'node:crypto';
import { createRng, type Rng } from '../sim/generator/random.ts';

/** Shares and sizes of the body's parts (bench/README.md quotes them). */
export const REALISTIC_MAIL = {
  /** Every message: an HTML body (newsletter-style table markup with inline styles), quoted-printable. */
  htmlKiB: [20, 100] as const,
  /** Every message also has its plain-text alternative (about a quarter of the HTML's size). A reply (it has In-Reply-To): the earlier message quoted below, in both alternatives. */
  quotedLines: [15, 60] as const,
  /** Share with a signature carrying an inline image (multipart/related, image/png by cid). */
  signatureImageShare: 0.5,
  signatureImageKiB: [3, 25] as const,
  /** Share with a CV attached (multipart/mixed): PDF two times in three, DOCX otherwise. */
  cvShare: 0.25,
  cvKiB: [50, 300] as const,
};

const WORDS = (
  'candidate role position interview schedule team engineering product senior backend frontend platform remote hybrid ' +
  'salary package benefits equity start date notice period references portfolio experience years leadership mentoring ' +
  'Kubernetes TypeScript Postgres distributed systems onboarding culture values feedback hiring manager recruiter ' +
  'opportunity application process next steps availability Thursday Monday afternoon morning call video coffee office ' +
  'Zürich München Malmö café résumé naïve – “quoted” ’apostrophe’ déjà vu newsletter update weekly digest events webinar'
).split(' ');

function sentence(rng: Rng, words: number): string {
  const out: string[] = [];
  for (let i = 0; i < words; i++) out.push(rng.pick(WORDS));
  const s = out.join(' ');
  return `${s[0]!.toUpperCase()}${s.slice(1)}.`;
}

function paragraph(rng: Rng): string {
  const out: string[] = [];
  const n = rng.int(2, 6);
  for (let i = 0; i < n; i++) out.push(sentence(rng, rng.int(6, 18)));
  return out.join(' ');
}

const escapeHtml = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** Newsletter-style HTML: nested layout tables, inline styles, links and tracking-free images by URL. */
function newsletterHtml(rng: Rng, targetBytes: number, quoted: string[] | null, signatureCid: string | null): { html: string; text: string } {
  const html: string[] = [
    '<!DOCTYPE html><html><head><meta http-equiv="Content-Type" content="text/html; charset=utf-8"><style type="text/css">',
    'body{margin:0;padding:0}table{border-collapse:collapse}td{font-family:Arial,Helvetica,sans-serif;font-size:14px;line-height:20px;color:#333333}',
    '.btn a{display:inline-block;padding:10px 18px;background:#1a73e8;color:#ffffff;text-decoration:none;border-radius:4px}</style></head>',
    '<body style="margin:0;padding:0;background-color:#f4f4f4"><table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" bgcolor="#f4f4f4"><tr><td align="center">',
    '<table role="presentation" width="600" cellpadding="0" cellspacing="0" border="0" style="width:600px;max-width:600px;background-color:#ffffff">',
  ];
  const text: string[] = [];
  let size = html.reduce((n, s) => n + s.length, 0);
  while (size < targetBytes) {
    const p = paragraph(rng);
    const block =
      rng.chance(0.25)
        ? `<tr><td style="padding:12px 24px 12px 24px;font-family:Arial,Helvetica,sans-serif;font-size:18px;line-height:24px;font-weight:bold;color:#111111">${escapeHtml(sentence(rng, rng.int(3, 8)))}</td></tr>`
        : rng.chance(0.2)
          ? `<tr><td class="btn" align="left" style="padding:8px 24px 16px 24px"><a href="https://jobs.example.com/r/${rng.int(1, 1e9).toString(36)}?utm_source=newsletter&amp;utm_medium=email" target="_blank" style="display:inline-block;padding:10px 18px;background:#1a73e8;color:#ffffff;text-decoration:none;border-radius:4px">${escapeHtml(sentence(rng, 3))}</a></td></tr>`
          : `<tr><td style="padding:8px 24px 8px 24px;font-family:Arial,Helvetica,sans-serif;font-size:14px;line-height:20px;color:#333333"><p style="margin:0 0 12px 0">${escapeHtml(p)}</p></td></tr>`;
    html.push(block);
    size += block.length;
    if (text.reduce((n, s) => n + s.length, 0) * 4 < size) text.push(p);
  }
  html.push('</table>');
  if (signatureCid !== null) {
    html.push(
      `<table role="presentation" cellpadding="0" cellspacing="0" border="0" style="margin-top:16px"><tr><td style="padding-right:12px"><img src="cid:${signatureCid}" width="96" height="32" alt="logo" style="display:block;border:0"></td>`,
      `<td style="font-size:12px;line-height:16px;color:#666666">Rita Recruiter<br>Talent Partner<br><a href="https://example.com" style="color:#1a73e8">example.com</a></td></tr></table>`,
    );
    text.push('--\nRita Recruiter\nTalent Partner\nexample.com');
  }
  if (quoted !== null) {
    html.push(`<div class="gmail_quote"><div dir="ltr" class="gmail_attr">On ${escapeHtml(quoted[0]!)} wrote:<br></div><blockquote class="gmail_quote" style="margin:0px 0px 0px 0.8ex;border-left:1px solid rgb(204,204,204);padding-left:1ex">`);
    for (const line of quoted.slice(1)) html.push(`<div>${escapeHtml(line)}</div>`);
    html.push('</blockquote></div>');
    text.push(`On ${quoted[0]} wrote:\n${quoted.slice(1).map((l) => `> ${l}`).join('\n')}`);
  }
  html.push('</td></tr></table></body></html>');
  return { html: html.join('\r\n'), text: text.join('\r\n\r\n') };
}

/** Quoted-printable (RFC 2045): lines of at most 76 characters, soft breaks, `=XX` for non-ASCII and `=`. */
export function quotedPrintable(text: string): string {
  const bytes = Buffer.from(text, 'utf8');
  const out: string[] = [];
  let line = '';
  const push = (token: string) => {
    if (line.length + token.length > 75) {
      out.push(`${line}=`);
      line = '';
    }
    line += token;
  };
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (b === 0x0d && bytes[i + 1] === 0x0a) {
      out.push(line);
      line = '';
      i++;
    } else if ((b >= 33 && b <= 126 && b !== 61) || ((b === 32 || b === 9) && bytes[i + 1] !== 0x0d && i + 1 < bytes.length)) {
      push(String.fromCharCode(b));
    } else {
      push(`=${b.toString(16).toUpperCase().padStart(2, '0')}`);
    }
  }
  out.push(line);
  return out.join('\r\n');
}

const base64Lines = (bytes: Buffer): string => (bytes.toString('base64').match(/.{1,76}/g) ?? []).join('\r\n');

/** Deterministic incompressible bytes (image and document payloads), sliced from one pool. */
let pool: Buffer | undefined;
function payload(rng: Rng, bytes: number, magic: string): Buffer {
  if (pool === undefined) {
    const blocks: Buffer[] = [];
    for (let i = 0; i < (512 * 1024) / 32; i++) blocks.push(createHash('sha256').update(`pool:${i}`).digest());
    pool = Buffer.concat(blocks);
  }
  const start = rng.int(0, pool.length - bytes);
  return Buffer.concat([Buffer.from(magic, 'latin1'), pool.subarray(start, start + bytes - magic.length)]);
}

const HEADER_DROPPED = /^(content-type|content-transfer-encoding|mime-version|content-disposition):/i;

/** The message's header fields other than its MIME structure, folded lines kept with their field. */
function keptHeaders(head: string): { lines: string; inReplyTo: boolean; from: string } {
  const fields: string[] = [];
  for (const line of head.split(/\r?\n/)) {
    if (/^[ \t]/.test(line) && fields.length > 0) fields[fields.length - 1] += `\r\n${line}`;
    else if (line !== '') fields.push(line);
  }
  const kept = fields.filter((f) => !HEADER_DROPPED.test(f));
  const from = kept.find((f) => /^from:/i.test(f))?.slice(5).trim() ?? 'someone';
  return { lines: kept.join('\r\n'), inReplyTo: kept.some((f) => /^in-reply-to:/i.test(f)), from };
}

/** The recorded message with a realistic body in place of the generated one. */
export function realisticMime(raw: Uint8Array, seed: string): Uint8Array {
  const rng = createRng(`realistic:${seed}`);
  const buf = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
  let end = buf.indexOf('\r\n\r\n');
  if (end < 0) end = buf.indexOf('\n\n');
  const head = buf.subarray(0, end < 0 ? buf.length : end).toString('latin1');
  const { lines, inReplyTo, from } = keptHeaders(head);
  const boundary = (label: string) => `----=_Part_${label}_${createHash('sha1').update(`${seed}:${label}`).digest('hex').slice(0, 16)}`;

  const quoted = inReplyTo ? [`Tue, 3 Nov 2026 at 10:${String(rng.int(10, 59))} ${from}`, ...Array.from({ length: rng.int(...REALISTIC_MAIL.quotedLines) }, () => sentence(rng, rng.int(5, 14)))] : null;
  const signature = rng.chance(REALISTIC_MAIL.signatureImageShare) ? `sig-${createHash('sha1').update(seed).digest('hex').slice(0, 12)}@example.com` : null;
  const htmlBytes = rng.int(REALISTIC_MAIL.htmlKiB[0] * 1024, REALISTIC_MAIL.htmlKiB[1] * 1024);
  const { html, text } = newsletterHtml(rng, htmlBytes, quoted, signature);

  const alt = boundary('alt');
  let body =
    `Content-Type: multipart/alternative; boundary="${alt}"\r\n\r\n` +
    `--${alt}\r\nContent-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n${quotedPrintable(text)}\r\n` +
    `--${alt}\r\nContent-Type: text/html; charset=UTF-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n${quotedPrintable(html)}\r\n` +
    `--${alt}--\r\n`;
  if (signature !== null) {
    const rel = boundary('rel');
    const image = payload(rng, rng.int(REALISTIC_MAIL.signatureImageKiB[0] * 1024, REALISTIC_MAIL.signatureImageKiB[1] * 1024), '\x89PNG\r\n\x1a\n');
    body =
      `Content-Type: multipart/related; boundary="${rel}"\r\n\r\n--${rel}\r\n${body}\r\n` +
      `--${rel}\r\nContent-Type: image/png; name="logo.png"\r\nContent-Disposition: inline; filename="logo.png"\r\nContent-Transfer-Encoding: base64\r\nContent-ID: <${signature}>\r\n\r\n${base64Lines(image)}\r\n` +
      `--${rel}--\r\n`;
  }
  if (rng.chance(REALISTIC_MAIL.cvShare)) {
    const mixed = boundary('mixed');
    const pdf = rng.chance(2 / 3);
    const size = rng.int(REALISTIC_MAIL.cvKiB[0] * 1024, REALISTIC_MAIL.cvKiB[1] * 1024);
    const doc = payload(rng, size, pdf ? '%PDF-1.7\n' : 'PK\x03\x04');
    const [type, name] = pdf ? ['application/pdf', 'CV.pdf'] : ['application/vnd.openxmlformats-officedocument.wordprocessingml.document', 'CV.docx'];
    body =
      `Content-Type: multipart/mixed; boundary="${mixed}"\r\n\r\n--${mixed}\r\n${body}\r\n` +
      `--${mixed}\r\nContent-Type: ${type}; name="${name}"\r\nContent-Disposition: attachment; filename="${name}"\r\nContent-Transfer-Encoding: base64\r\n\r\n${base64Lines(doc)}\r\n` +
      `--${mixed}--\r\n`;
  }
  return Buffer.concat([Buffer.from(`${lines}\r\nMIME-Version: 1.0\r\n`, 'latin1'), Buffer.from(body, 'utf8')]);
}
