import { useEffect, useId, useState } from 'react';
import { api, errorMessage, type User } from '../api.ts';
import { AUDIT_ACTIONS, auditSentence, type AuditEntryView } from '../audit-sentences.ts';
import { ActionButton, Alert, Loading } from '../ui.tsx';
import { formatDate } from '../words.ts';

const PAGE = 20;

/**
 * The company's audit log for its admins: one sentence per entry, filtered by person and by action,
 * newest first, twenty at a time.
 */
export function AuditLog({ contractId, users, reloadKey }: { contractId: string; users: User[]; reloadKey: number }) {
  const [entries, setEntries] = useState<AuditEntryView[]>([]);
  const [next, setNext] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<string | null>(null);
  const [person, setPerson] = useState('');
  const [action, setAction] = useState('');
  const personId = useId();
  const actionId = useId();
  const filters = { actorUserId: person || undefined, action: action || undefined };

  useEffect(() => {
    let cancelled = false;
    setLoading(true);
    api.audit(contractId, { limit: PAGE, ...filters }).then(
      (page) => {
        if (cancelled) return;
        setEntries(page.entries);
        setNext(page.nextCursor);
        setError(null);
        setLoading(false);
      },
      (e) => {
        if (cancelled) return;
        setError(errorMessage(e));
        setLoading(false);
      },
    );
    return () => {
      cancelled = true;
    };
  }, [contractId, reloadKey, person, action]);

  async function older() {
    if (!next) return;
    setLoading(true);
    try {
      const page = await api.audit(contractId, { limit: PAGE, before: next, ...filters });
      setEntries((list) => [...list, ...page.entries]);
      setNext(page.nextCursor);
      setError(null);
    } catch (e) {
      setError(errorMessage(e));
    } finally {
      setLoading(false);
    }
  }

  const filtered = person !== '' || action !== '';
  const people = [...users].sort((a, b) => a.name.localeCompare(b.name));

  return (
    <section className="card" aria-labelledby="audit-title">
      <div className="card-heading">
        <h2 id="audit-title">Audit log</h2>
      </div>
      <p className="muted small">Every change to email and calendar access, every connection and every export, with who made it.</p>
      <div className="audit-filters" role="group" aria-label="Filter the audit log">
        <div className="field">
          <label htmlFor={personId}>Person</label>
          <select id={personId} value={person} onChange={(e) => setPerson(e.target.value)}>
            <option value="">Everyone</option>
            {people.map((u) => (
              <option key={u.id} value={u.id}>
                {u.name}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor={actionId}>Action</label>
          <select id={actionId} value={action} onChange={(e) => setAction(e.target.value)}>
            <option value="">All actions</option>
            {Object.entries(AUDIT_ACTIONS).map(([value, label]) => (
              <option key={value} value={value}>
                {label}
              </option>
            ))}
          </select>
        </div>
      </div>
      {error && <Alert tone="error">{error}</Alert>}
      {entries.length === 0 && loading && <Loading label="Loading the audit log…" />}
      {entries.length === 0 && !loading && !error && <p className="muted">{filtered ? 'Nothing matches these filters.' : 'Nothing has happened yet.'}</p>}
      {entries.length > 0 && (
        <ol className="audit-list" aria-label="Audit entries, newest first">
          {entries.map((e) => (
            <li key={e.id} className="audit-entry audit-sentence">
              <time dateTime={e.at} className="audit-time">
                {formatDate(e.at)}
              </time>
              <span className="audit-what">{auditSentence(e)}</span>
            </li>
          ))}
        </ol>
      )}
      <div className="form-actions">
        {next ? (
          <ActionButton variant="secondary" onClick={() => void older()} busy={loading} busyLabel="Loading older entries…">
            Show older entries
          </ActionButton>
        ) : (
          entries.length > 0 && <p className="muted small">{filtered ? 'That is every matching entry.' : 'This is the beginning of the log.'}</p>
        )}
      </div>
    </section>
  );
}
