import { useState } from 'react';
import { api, errorMessage, type Settings } from '../api.ts';
import { ActionButton, Alert } from '../ui.tsx';
import { count } from '../words.ts';

/** Screen 8: the seat holder downloads the messages their seat owns and they may see. */
export function ExportMessages({ seatId, settings }: { seatId: string; settings: Settings | undefined }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const blocked = !settings ? 'Loading your company settings…' : settings.emailAccess === 'off' ? 'Email is turned off for your company, so there are no messages to export.' : null;

  async function download() {
    setBusy(true);
    setError(null);
    setDone(null);
    try {
      const file = await api.exportMessages(seatId);
      // A link to an object URL saves the file without leaving the page; the URL is released afterwards.
      const url = URL.createObjectURL(file.blob);
      const link = document.createElement('a');
      link.href = url;
      link.download = file.filename;
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
      setDone(`Downloaded ${count(file.messages, 'message')} as ${file.filename}.`);
    } catch (e) {
      setError(errorMessage(e));
    } finally {
      setBusy(false);
    }
  }

  return (
    <section className="card" aria-labelledby="export-title" data-testid="export-card">
      <div className="card-heading">
        <h2 id="export-title">Export my messages</h2>
      </div>
      <p>
        Download the candidate email your seat holds — what you synced or sent, and what you may see — as a .zip file. Inside are{' '}
        <code>messages.json</code> (every message with its details) and one <code>.eml</code> file per message that any mail program opens.
      </p>
      <p className="muted">
        The product does not keep the original email files, so each .eml is rebuilt from what it stored: sender, recipients, date, subject, threading
        and text. Attachments are listed by name and size but not included.
      </p>
      {error && (
        <Alert tone="error" onDismiss={() => setError(null)}>
          {error}
        </Alert>
      )}
      {done && (
        <Alert tone="success" onDismiss={() => setDone(null)}>
          {done}
        </Alert>
      )}
      <div className="form-actions">
        <ActionButton variant="secondary" onClick={() => void download()} disabledReason={blocked} busy={busy} busyLabel="Preparing the file…">
          Download my messages
        </ActionButton>
      </div>
    </section>
  );
}
