import type { Folder, StoredMessage } from '../core/mail.ts';

/** Gmail system labels of the store's folders. */
export const FOLDER_LABEL: Record<Folder, string> = { inbox: 'INBOX', sent: 'SENT', spam: 'SPAM', drafts: 'DRAFT', trash: 'TRASH' };

/** Labels of a message now: its folder's label, SENT kept on a trashed sent message, UNREAD for new mail. */
export function labelsOf(m: StoredMessage): string[] {
  return labelsFor(m.folder, m.previousFolder, m.flags.unread);
}

export function labelsFor(folder: Folder, previousFolder: Folder | null, unread: boolean): string[] {
  const out: string[] = [];
  if (unread && folder !== 'sent' && folder !== 'drafts') out.push('UNREAD');
  if (folder === 'inbox') out.push('CATEGORY_PERSONAL');
  if (folder === 'trash' && previousFolder === 'sent') out.push('SENT');
  out.push(FOLDER_LABEL[folder]);
  return out;
}

export const SYSTEM_LABELS = ['CHAT', 'SENT', 'INBOX', 'IMPORTANT', 'TRASH', 'DRAFT', 'SPAM', 'CATEGORY_FORUMS', 'CATEGORY_UPDATES', 'CATEGORY_PERSONAL', 'CATEGORY_PROMOTIONS', 'CATEGORY_SOCIAL', 'STARRED', 'UNREAD'];
