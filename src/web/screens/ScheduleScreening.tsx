import { useId, useState } from 'react';
import { api, errorMessage, type Candidate, type Conferencing, type Mailbox, type Settings, type User } from '../api.ts';
import { conferencingFor, scheduleBlocked } from '../rules.ts';
import { ActionButton, ActionErrorAlert, Alert, Link, SETTINGS_PATH } from '../ui.tsx';
import { CONFERENCING_NAMES, formatDate } from '../words.ts';

const DURATIONS = [15, 30, 45, 60];

/** A `datetime-local` value (local time, minutes) for a date. */
const localValue = (date: Date): string => {
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
};

/** Tomorrow at 10:00 local time: a sensible first proposal. */
const defaultStart = (): string => {
  const d = new Date();
  d.setDate(d.getDate() + 1);
  d.setHours(10, 0, 0, 0);
  return localValue(d);
};

/** Screen 7: a screening interview in one's own calendar, inviting the candidate. */
export function ScheduleScreening({ user, candidate, settings, mailbox }: { user: User; candidate: Candidate; settings: Settings | undefined; mailbox: Mailbox | undefined }) {
  const options = conferencingFor(settings?.emailProvider ?? null);
  const [title, setTitle] = useState(`Screening call with ${candidate.name}`);
  const [start, setStart] = useState(defaultStart);
  const [minutes, setMinutes] = useState(30);
  const [choice, setChoice] = useState<Conferencing | null>(null);
  const conferencing: Conferencing = choice && options.includes(choice) ? choice : (options[0] ?? 'none');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<Error | null>(null);
  const [done, setDone] = useState<{ at: string; joinUrl?: string | undefined } | null>(null);
  const ids = { title: useId(), start: useId(), duration: useId(), conferencing: useId() };
  const blocked = scheduleBlocked({ seatId: user.seatId, settings, mailbox, candidateEmails: candidate.emails });
  const startDate = new Date(start);
  const missing = !title.trim() ? 'Give the interview a title.' : Number.isNaN(startDate.getTime()) ? 'Pick a date and time.' : null;

  async function schedule() {
    setBusy(true);
    setError(null);
    setDone(null);
    try {
      const end = new Date(startDate.getTime() + minutes * 60_000);
      const result = await api.scheduleInterview(candidate.id, { title: title.trim(), start: startDate.toISOString(), end: end.toISOString(), conferencing });
      setDone({ at: startDate.toISOString(), joinUrl: result.joinUrl });
    } catch (e) {
      setError(e instanceof Error ? e : new Error(errorMessage(e)));
    } finally {
      setBusy(false);
    }
  }

  return (
    <section className="card schedule" aria-labelledby="schedule-title" data-testid="schedule">
      <h2 id="schedule-title">Schedule screening</h2>
      <p className="muted">The interview goes into your own calendar and {candidate.emails[0] ?? 'the candidate'} receives the invitation.</p>
      {blocked && (
        <Alert tone="info">
          <p>{blocked}</p>
          {/connect/i.test(blocked) && (
            <p>
              <Link to={SETTINGS_PATH}>Open My email &amp; calendar</Link>
            </p>
          )}
        </Alert>
      )}
      {done && (
        <Alert tone="success" onDismiss={() => setDone(null)}>
          <p>The screening is in your calendar for {formatDate(done.at)} and the candidate is invited.</p>
          {done.joinUrl && (
            <p>
              Video call: <a href={done.joinUrl} target="_blank" rel="noopener noreferrer" data-testid="join-url">{done.joinUrl}</a>
            </p>
          )}
        </Alert>
      )}
      {error && <ActionErrorAlert error={error} onDismiss={() => setError(null)} />}
      <form
        className="stack-tight"
        onSubmit={(event) => {
          event.preventDefault();
          if (!blocked && !missing) void schedule();
        }}
      >
        <div className="field">
          <label htmlFor={ids.title}>Title</label>
          <input id={ids.title} type="text" value={title} onChange={(e) => setTitle(e.target.value)} maxLength={500} />
        </div>
        <div className="field-row">
          <div className="field">
            <label htmlFor={ids.start}>Starts (your time)</label>
            <input id={ids.start} type="datetime-local" value={start} onChange={(e) => setStart(e.target.value)} />
          </div>
          <div className="field">
            <label htmlFor={ids.duration}>Duration</label>
            <select id={ids.duration} value={minutes} onChange={(e) => setMinutes(Number(e.target.value))}>
              {DURATIONS.map((m) => (
                <option key={m} value={m}>
                  {m} minutes
                </option>
              ))}
            </select>
          </div>
        </div>
        <fieldset className="radio-row">
          <legend>Video call</legend>
          {options.map((o) => (
            <label key={o} className="radio">
              <input type="radio" name={ids.conferencing} value={o} checked={conferencing === o} onChange={() => setChoice(o)} /> {CONFERENCING_NAMES[o]}
            </label>
          ))}
        </fieldset>
        {settings?.emailProvider && (
          <p className="hint">{settings.emailProvider === 'google' ? 'Microsoft Teams needs Microsoft 365; your company uses Google Workspace.' : 'Google Meet needs Google Workspace; your company uses Microsoft 365.'}</p>
        )}
        <div className="form-actions">
          <ActionButton type="submit" disabledReason={blocked ?? missing} busy={busy} busyLabel="Scheduling…">
            Schedule screening
          </ActionButton>
        </div>
      </form>
    </section>
  );
}
