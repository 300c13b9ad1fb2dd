import MailComposer from 'nodemailer/lib/mail-composer/index.js';
import type Mail from 'nodemailer/lib/mailer/index.js';

/** RFC 5322 bytes as a mail client would send them (nodemailer's composer), for parse and store tests. */
export async function compose(options: Mail.Options): Promise<Buffer> {
  const node = new MailComposer(options).compile();
  node.keepBcc = true;
  return node.build();
}

/** A hand-written message, lines joined with CRLF. */
export const crlf = (...lines: string[]): Buffer => Buffer.from(lines.join('\r\n'), 'utf8');
