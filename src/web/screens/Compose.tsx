import { useEffect, useId, useState } from 'react';
import { api, errorMessage, type Candidate } from '../api.ts';
import { ActionButton, ActionErrorAlert } from '../ui.tsx';

/**
 * Parts of the compose pane and the profile header that concern the candidate's addresses and the subject:
 * a new address is added to the profile only once the user says so (the server saves it on send, R-50), an
 * address added by mistake can be removed again, and an over-long subject is refused with a counter, never cut.
 */

/** RFC 5322's line limit; the server refuses longer subjects. */
export const SUBJECT_LIMIT = 998;

export function subjectProblem(subject: string): string | null {
  const over = subject.trim().length - SUBJECT_LIMIT;
  return over > 0 ? `The subject is ${over} ${over === 1 ? 'character' : 'characters'} too long (at most ${SUBJECT_LIMIT}).` : null;
}

/** The subject with a live counter; typing or pasting past the limit is kept and flagged, not cut. */
export function SubjectField({ value, onChange }: { value: string; onChange: (value: string) => void }) {
  const id = useId();
  const counterId = useId();
  const length = value.trim().length;
  const problem = subjectProblem(value);
  return (
    <div className="field">
      <label htmlFor={id}>Subject</label>
      <input id={id} type="text" value={value} onChange={(e) => onChange(e.target.value)} aria-describedby={counterId} aria-invalid={problem !== null} />
      <span id={counterId} className={problem ? 'hint hint-error' : 'hint'} data-testid="subject-counter" aria-live="polite">
        {problem ?? `${length} / ${SUBJECT_LIMIT} characters`}
      </span>
    </div>
  );
}

/** Whether sending to `to` needs the user's word that it joins the profile, and the reason Send is off without it. */
export function newAddressProblem(candidate: Candidate, to: string, confirmed: boolean): string | null {
  const address = to.trim();
  if (!address || candidate.emails.some((e) => e.toLowerCase() === address.toLowerCase())) return null;
  return confirmed ? null : `Confirm that ${address} should be added to ${candidate.name}’s profile.`;
}

/** The confirmation shown for an address the candidate does not have yet. */
export function NewAddressConfirm({ candidate, to, confirmed, onChange }: { candidate: Candidate; to: string; confirmed: boolean; onChange: (confirmed: boolean) => void }) {
  const id = useId();
  const address = to.trim();
  if (!address || candidate.emails.some((e) => e.toLowerCase() === address.toLowerCase())) return null;
  return (
    <div className="field confirm-address" data-testid="confirm-new-address">
      <label htmlFor={id} className="checkbox">
        <input id={id} type="checkbox" checked={confirmed} onChange={(e) => onChange(e.target.checked)} /> Add {address} to {candidate.name}’s profile
      </label>
      <span className="hint">
        {candidate.name} does not have this address yet. Sending saves it to the profile, and email with it is synced for {candidate.name} from then on. If it was
        a mistake, you can remove it from the profile afterwards.
      </span>
    </div>
  );
}

/** The profile's addresses; Remove on those this user may remove (who added it in the product, or an admin). */
export function CandidateAddresses({ candidate, onChanged }: { candidate: Candidate; onChanged: () => Promise<void> }) {
  const [confirming, setConfirming] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<Error | null>(null);
  const [done, setDone] = useState<string | null>(null);
  // Who added each address and whether this user may remove it; reloaded when the profile's list changes.
  const [removable, setRemovable] = useState<Map<string, string | null>>(new Map());
  const key = candidate.emails.join('\n');
  useEffect(() => {
    let live = true;
    api.candidateEmails(candidate.id).then(
      (rows) => live && setRemovable(new Map(rows.filter((r) => r.removable).map((r) => [r.address, r.addedBy?.name ?? null]))),
      () => live && setRemovable(new Map()),
    );
    return () => {
      live = false;
    };
  }, [candidate.id, key]);
  if (candidate.emails.length === 0) {
    return (
      <p className="muted" data-testid="candidate-emails">
        No email address yet
      </p>
    );
  }

  async function remove(address: string) {
    setBusy(true);
    setError(null);
    try {
      await api.removeCandidateEmail(candidate.id, address);
      setConfirming(null);
      setDone(`${address} was removed from the profile. Email with it is no longer synced.`);
      await onChanged();
    } catch (e) {
      setError(e instanceof Error ? e : new Error(errorMessage(e)));
    } finally {
      setBusy(false);
    }
  }

  return (
    <div className="stack-tight">
      <ul className="plain-list inline-list muted" data-testid="candidate-emails">
        {candidate.emails.map((address) => (
          <li key={address}>
            {address}{' '}
            {confirming === address ? (
              <span className="confirm-inline">
                Remove it from the profile? Email with it will no longer be synced.{' '}
                <ActionButton variant="secondary" onClick={() => void remove(address)} busy={busy} busyLabel="Removing…">
                  Remove {address}
                </ActionButton>{' '}
                <ActionButton variant="secondary" onClick={() => setConfirming(null)}>
                  Keep it
                </ActionButton>
              </span>
            ) : removable.has(address) ? (
              <button type="button" className="button button-quiet button-small" onClick={() => setConfirming(address)} aria-label={`Remove ${address} from the profile`}>
                Remove
              </button>
            ) : null}
          </li>
        ))}
      </ul>
      {done && (
        <p className="hint" role="status">
          {done}
        </p>
      )}
      {error && <ActionErrorAlert error={error} onDismiss={() => setError(null)} />}
    </div>
  );
}
