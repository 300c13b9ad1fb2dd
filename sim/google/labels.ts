import { createHash } from 'node:crypto';
import type { Folder, StoredMessage, SystemFolder } from '../core/mail.ts';

/** Gmail system labels of the store's folders; archived mail has none (it merely lacks INBOX). */
export const FOLDER_LABEL: Record<Exclude<SystemFolder, 'archive'>, string> = { inbox: 'INBOX', sent: 'SENT', spam: 'SPAM', drafts: 'DRAFT', trash: 'TRASH' };

/** A user label's id (`Label_…`, stable per name, as Gmail's are per label). */
export function userLabelId(path: string): string {
  // Asked for at every message listed or rendered: hashed once per label name.
  let id = userLabelIds.get(path);
  if (id === undefined) {
    if (userLabelIds.size >= 10_000) userLabelIds.clear();
    userLabelIds.set(path, (id = `Label_${BigInt(`0x${createHash('sha256').update(path).digest('hex').slice(0, 12)}`).toString()}`));
  }
  return id;
}
const userLabelIds = new Map<string, string>();

/** The label a folder stands for: a system label, a user label (`user:<name>`), or none (archived). */
export function folderLabel(folder: Folder): string | null {
  if (folder === 'archive') return null;
  if (folder.startsWith('user:')) return userLabelId(folder.slice(5));
  return FOLDER_LABEL[folder as Exclude<SystemFolder, 'archive'>];
}

/** Labels of a message now: its folder's label, SENT kept on a trashed sent message, UNREAD for new mail. */
export function labelsOf(m: StoredMessage): string[] {
  return labelsFor(m.folder, m.previousFolder, m.flags.unread);
}

export function labelsFor(folder: Folder, previousFolder: Folder | null, unread: boolean): string[] {
  const out: string[] = [];
  if (unread && folder !== 'sent' && folder !== 'drafts') out.push('UNREAD');
  // Categories stay on received mail when it is archived or labelled (they are not inbox tabs only).
  if (folder === 'inbox' || folder === 'archive' || folder.startsWith('user:')) out.push('CATEGORY_PERSONAL');
  if (folder === 'trash' && previousFolder === 'sent') out.push('SENT');
  const label = folderLabel(folder);
  if (label) out.push(label);
  return out;
}

export const SYSTEM_LABELS = ['CHAT', 'SENT', 'INBOX', 'IMPORTANT', 'TRASH', 'DRAFT', 'SPAM', 'CATEGORY_FORUMS', 'CATEGORY_UPDATES', 'CATEGORY_PERSONAL', 'CATEGORY_PROMOTIONS', 'CATEGORY_SOCIAL', 'STARRED', 'UNREAD'];
