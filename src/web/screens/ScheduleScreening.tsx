import { useCallback, useEffect, useId, useState } from 'react';
import { api, errorMessage, type Candidate, type Conferencing, type Mailbox, type Screening, type Settings, type User } from '../api.ts';
import { conferencingFor, scheduleBlocked } from '../rules.ts';
import { ActionButton, ActionErrorAlert, Alert, Link, SETTINGS_PATH } from '../ui.tsx';
import { CONFERENCING_NAMES, formatDate } from '../words.ts';

/** A screening is one sitting: the server refuses more than a working day (10 hours) as a mistake. */
const MAX_HOURS = 10;

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

/** Half an hour after a `datetime-local` value. */
const plusHalfHour = (value: string): string => {
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? value : localValue(new Date(d.getTime() + 30 * 60_000));
};

/** What is wrong with a start and end, in the server's words; null when they can be sent. */
export function timesProblem(start: Date, end: Date, now = new Date()): string | null {
  if (Number.isNaN(start.getTime())) return 'Pick a date and time.';
  if (Number.isNaN(end.getTime())) return 'Pick when it ends.';
  if (start.getTime() < now.getTime()) return 'The start is in the past. Choose a time from now on.';
  if (end.getTime() <= start.getTime()) return 'The end must be after the start.';
  if (end.getTime() - start.getTime() > MAX_HOURS * 3_600_000) return `A screening can last at most ${MAX_HOURS} hours. Check the end time.`;
  return null;
}

/** Screen 7: a screening interview in one's own calendar, inviting the candidate. */
export function ScheduleScreening({ user, candidate, settings, mailbox }: { user: User; candidate: Candidate; settings: Settings | undefined; mailbox: Mailbox | undefined }) {
  const options = conferencingFor(settings?.emailProvider ?? null);
  const [title, setTitle] = useState(`Screening call with ${candidate.name}`);
  const [start, setStart] = useState(defaultStart);
  const [end, setEnd] = useState(() => plusHalfHour(defaultStart()));
  const [choice, setChoice] = useState<Conferencing | null>(null);
  const conferencing: Conferencing = choice && options.includes(choice) ? choice : (options[0] ?? 'none');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<Error | null>(null);
  const [done, setDone] = useState<{ at: string; joinUrl?: string | undefined } | null>(null);
  const [screenings, setScreenings] = useState<Screening[] | null>(null);
  const ids = { title: useId(), start: useId(), end: useId(), conferencing: useId() };
  const blocked = scheduleBlocked({ seatId: user.seatId, settings, mailbox, candidateEmails: candidate.emails });
  const startDate = new Date(start);
  const endDate = new Date(end);
  const missing = !title.trim() ? 'Give the interview a title.' : timesProblem(startDate, endDate);

  const reload = useCallback(async () => {
    try {
      setScreenings(await api.interviews(candidate.id));
    } catch {
      setScreenings([]);
    }
  }, [candidate.id]);
  useEffect(() => {
    void reload();
  }, [reload]);

  async function schedule() {
    setBusy(true);
    setError(null);
    setDone(null);
    try {
      const result = await api.scheduleInterview(candidate.id, { title: title.trim(), start: startDate.toISOString(), end: endDate.toISOString(), conferencing });
      setDone({ at: startDate.toISOString(), joinUrl: result.joinUrl });
      // A fresh form for the next one; the new screening shows in the list below.
      const next = defaultStart();
      setTitle(`Screening call with ${candidate.name}`);
      setStart(next);
      setEnd(plusHalfHour(next));
      setChoice(null);
      await reload();
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
            <input
              id={ids.start}
              type="datetime-local"
              value={start}
              onChange={(e) => {
                // Moving the start keeps the length the user had chosen.
                const length = endDate.getTime() - startDate.getTime();
                setStart(e.target.value);
                const moved = new Date(e.target.value);
                if (!Number.isNaN(moved.getTime()) && length > 0) setEnd(localValue(new Date(moved.getTime() + length)));
              }}
            />
          </div>
          <div className="field">
            <label htmlFor={ids.end}>Ends (your time)</label>
            <input id={ids.end} type="datetime-local" value={end} onChange={(e) => setEnd(e.target.value)} />
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
      <ScreeningList screenings={screenings} onChanged={reload} />
    </section>
  );
}

/** The candidate's screenings in the user's own calendar, with cancel and reschedule. */
function ScreeningList({ screenings, onChanged }: { screenings: Screening[] | null; onChanged: () => Promise<void> }) {
  if (screenings === null) return null;
  return (
    <div className="stack-tight" data-testid="screenings">
      <h3>Scheduled screenings</h3>
      {screenings.length === 0 ? (
        <p className="muted">None scheduled from your calendar yet.</p>
      ) : (
        <ul className="plain-list">
          {screenings.map((s) => (
            <ScreeningRow key={s.id} screening={s} onChanged={onChanged} />
          ))}
        </ul>
      )}
    </div>
  );
}

function ScreeningRow({ screening, onChanged }: { screening: Screening; onChanged: () => Promise<void> }) {
  const [moving, setMoving] = useState(false);
  const [start, setStart] = useState(() => localValue(new Date(screening.start)));
  const [end, setEnd] = useState(() => localValue(new Date(screening.end)));
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<Error | null>(null);
  const [confirmCancel, setConfirmCancel] = useState(false);
  const ids = { start: useId(), end: useId() };
  const problem = timesProblem(new Date(start), new Date(end));

  async function act(action: () => Promise<unknown>) {
    setBusy(true);
    setError(null);
    try {
      await action();
      setMoving(false);
      setConfirmCancel(false);
      await onChanged();
    } catch (e) {
      setError(e instanceof Error ? e : new Error(errorMessage(e)));
    } finally {
      setBusy(false);
    }
  }

  return (
    <li className="screening" data-testid="screening">
      <p>
        <strong>{screening.title}</strong> — {formatDate(screening.start)} to {formatDate(screening.end)}
      </p>
      <p className="muted">
        {screening.joinUrl ? (
          <>
            Video call:{' '}
            <a href={screening.joinUrl} target="_blank" rel="noopener noreferrer">
              {screening.joinUrl}
            </a>
            .{' '}
          </>
        ) : (
          'No video call. '
        )}
        Scheduled by {screening.scheduledBy.name ?? 'you'}.
      </p>
      {error && <ActionErrorAlert error={error} onDismiss={() => setError(null)} />}
      {moving ? (
        <form
          className="stack-tight"
          onSubmit={(event) => {
            event.preventDefault();
            if (!problem) void act(() => api.rescheduleInterview(screening.id, { start: new Date(start).toISOString(), end: new Date(end).toISOString() }));
          }}
        >
          <div className="field-row">
            <div className="field">
              <label htmlFor={ids.start}>New start (your time)</label>
              <input id={ids.start} type="datetime-local" value={start} onChange={(e) => setStart(e.target.value)} />
            </div>
            <div className="field">
              <label htmlFor={ids.end}>New end (your time)</label>
              <input id={ids.end} type="datetime-local" value={end} onChange={(e) => setEnd(e.target.value)} />
            </div>
          </div>
          <div className="form-actions">
            <ActionButton type="submit" disabledReason={problem} busy={busy} busyLabel="Moving…">
              Move and notify the candidate
            </ActionButton>
            <ActionButton variant="secondary" onClick={() => setMoving(false)}>
              Keep the time
            </ActionButton>
          </div>
        </form>
      ) : confirmCancel ? (
        <div className="form-actions">
          <p>Cancel this screening? It is removed from your calendar and the candidate receives the cancellation.</p>
          <ActionButton onClick={() => void act(() => api.cancelInterview(screening.id))} busy={busy} busyLabel="Cancelling…">
            Cancel the screening
          </ActionButton>
          <ActionButton variant="secondary" onClick={() => setConfirmCancel(false)}>
            Keep it
          </ActionButton>
        </div>
      ) : (
        <div className="form-actions">
          <ActionButton variant="secondary" onClick={() => setMoving(true)}>
            Reschedule
          </ActionButton>
          <ActionButton variant="secondary" onClick={() => setConfirmCancel(true)}>
            Cancel…
          </ActionButton>
        </div>
      )}
    </li>
  );
}
