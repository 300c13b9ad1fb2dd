import { useEffect, useMemo, useState, type FormEvent } from 'react';
import { api, errorMessage, type Contract, type SeatHealth, type Settings, type User } from '../api.ts';
import { ActionButton, Alert, ConfirmDialog, Loading, RuleTag, StateBadge, useLoad, useTitle } from '../ui.tsx';
import { seatsDisconnectedBy, type Draft } from '../rules.ts';
import { AuditLog } from './AuditLog.tsx';
import { ACCESS_DESCRIPTIONS, ACCESS_NAMES, PROVIDER_NAMES, count, formatDate, isDowngrade, reasonText, seats, syncStatusText } from '../words.ts';


export function AdminEmail({ user, contract }: { user: User; contract: Contract | null }) {
  useTitle('Company email & calendar');
  const contractId = user.contractId;
  const settings = useLoad(() => api.settings(contractId), [contractId]);
  const health = useLoad(() => api.syncHealth(contractId), [contractId]);
  const users = useLoad(() => api.users(contractId), [contractId]);
  const [auditReload, setAuditReload] = useState(0);

  const refresh = async () => {
    await Promise.all([settings.reload(), health.reload()]);
    setAuditReload((n) => n + 1);
  };

  return (
    <div className="stack">
      <div className="page-heading">
        <h1>Company email &amp; calendar</h1>
        <p className="muted">Choose how your recruiters connect their company mailboxes and calendars, and watch their sync.</p>
      </div>
      {settings.error !== undefined && <Alert tone="error">{errorMessage(settings.error)}</Alert>}
      {settings.data === undefined && settings.error === undefined && <Loading label="Loading settings…" />}
      {settings.data && (
        <>
          <Notices settings={settings.data} health={health.data} />
          <SettingsForm contractId={contractId} suspended={contract?.status === 'suspended'} settings={settings.data} health={health.data} onSaved={refresh} />
        </>
      )}
      <SyncHealth health={health.data} error={health.error} onRefresh={() => void health.reload()} />
      <AuditLog contractId={contractId} users={users.data ?? []} reloadKey={auditReload} />
    </div>
  );
}

function Notices({ settings, health }: { settings: Settings; health: SeatHealth[] | undefined }) {
  if (settings.notices.length === 0) return null;
  // Names come from the sync-health list; until it has loaded, no name is better than a wrong one.
  const nameOf = (seatId: string) => health?.find((s) => s.seatId === seatId)?.userName ?? 'a parked seat';
  return (
    <section aria-labelledby="notices-title" className="notices">
      <h2 id="notices-title" className="visually-hidden">
        Notices
      </h2>
      {settings.notices.map((notice) => (
        <Alert key={notice.code} tone="warning">
          <p>
            <RuleTag rule={notice.rule} /> {notice.message}
          </p>
          {health !== undefined && notice.seatIds && notice.seatIds.length > 0 && <p className="muted small">Seats: {notice.seatIds.map(nameOf).join(', ')}</p>}
        </Alert>
      ))}
    </section>
  );
}

/** The page's draft: the email settings and whether mailboxes outside the company domains are allowed. */
type FormDraft = Draft & { allowExternalMailboxes: boolean };

function SettingsForm({
  contractId,
  suspended,
  settings,
  health,
  onSaved,
}: {
  contractId: string;
  suspended: boolean;
  settings: Settings;
  health: SeatHealth[] | undefined;
  onSaved: () => Promise<void>;
}) {
  const saved: FormDraft = useMemo(
    () => ({ emailProvider: settings.emailProvider, emailAccess: settings.emailAccess, calendarEnabled: settings.calendarEnabled, allowExternalMailboxes: settings.allowExternalMailboxes }),
    [settings.emailProvider, settings.emailAccess, settings.calendarEnabled, settings.allowExternalMailboxes],
  );
  const [draft, setDraftState] = useState<FormDraft>(saved);
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<{ tone: 'success' | 'error'; text: string } | null>(null);
  useEffect(() => setDraftState(saved), [saved]);
  // A new edit replaces the message about the previous save.
  const setDraft = (next: FormDraft) => {
    setDraftState(next);
    setResult(null);
  };

  const changed =
    draft.emailProvider !== saved.emailProvider ||
    draft.emailAccess !== saved.emailAccess ||
    draft.calendarEnabled !== saved.calendarEnabled ||
    draft.allowExternalMailboxes !== saved.allowExternalMailboxes;
  const providerChange = saved.emailProvider !== null && draft.emailProvider !== saved.emailProvider;
  const downgrade = isDowngrade(saved.emailAccess, draft.emailAccess);
  const affected = health ? seatsDisconnectedBy(saved, draft, health) : [];

  const disabledReason = suspended
    ? 'This company is suspended: settings cannot change until it is reactivated.'
    : !changed
      ? 'No changes to save.'
      : (providerChange || downgrade) && !health
        ? 'Loading the seats this change would disconnect…'
        : null;

  async function save() {
    setConfirming(false);
    setBusy(true);
    setResult(null);
    try {
      const change = {
        ...(draft.emailProvider !== saved.emailProvider && draft.emailProvider !== null ? { emailProvider: draft.emailProvider } : {}),
        ...(draft.emailAccess !== saved.emailAccess ? { emailAccess: draft.emailAccess } : {}),
        ...(draft.calendarEnabled !== saved.calendarEnabled ? { calendarEnabled: draft.calendarEnabled } : {}),
        ...(draft.allowExternalMailboxes !== saved.allowExternalMailboxes ? { allowExternalMailboxes: draft.allowExternalMailboxes } : {}),
      };
      const answer = await api.updateSettings(contractId, change);
      setResult({
        tone: 'success',
        text: `Settings saved.${answer.deauthorizedSeats > 0 ? ` ${seats(answer.deauthorizedSeats)} disconnected; their recruiters must connect again.` : ''}`,
      });
      await onSaved();
    } catch (error) {
      setResult({ tone: 'error', text: errorMessage(error) });
    } finally {
      setBusy(false);
    }
  }

  function submit(event: FormEvent) {
    event.preventDefault();
    if (disabledReason) return;
    if (providerChange || downgrade) setConfirming(true);
    else void save();
  }

  const locked = suspended || busy;
  return (
    <section className="card" aria-labelledby="settings-title">
      <h2 id="settings-title">Settings</h2>
      <form onSubmit={submit} className="stack">
        <fieldset className="choice-group" disabled={locked}>
          <legend>
            Email provider
          </legend>
          <p className="muted small">One provider for the whole company. Recruiters cannot connect until one is chosen.</p>
          <div className="choice-row">
            {(['google', 'microsoft'] as const).map((p) => (
              <label key={p} className={`choice-card${draft.emailProvider === p ? ' is-selected' : ''}`}>
                <input type="radio" name="emailProvider" value={p} checked={draft.emailProvider === p} onChange={() => setDraft({ ...draft, emailProvider: p })} />
                <span className="choice-title">{PROVIDER_NAMES[p]}</span>
                <span className="choice-text">{p === 'google' ? 'Gmail and Google Calendar, with Google Meet.' : 'Outlook and the Outlook calendar, with Teams.'}</span>
              </label>
            ))}
          </div>
        </fieldset>

        <fieldset className="choice-group" disabled={locked}>
          <legend>
            Email access level
          </legend>
          <p className="muted small">Lowering the level disconnects every recruiter&apos;s email.</p>
          <div className="choice-row">
            {(['off', 'view', 'send_and_view'] as const).map((level) => (
              <label key={level} className={`choice-card${draft.emailAccess === level ? ' is-selected' : ''}`}>
                <input type="radio" name="emailAccess" value={level} checked={draft.emailAccess === level} onChange={() => setDraft({ ...draft, emailAccess: level })} />
                <span className="choice-title">{ACCESS_NAMES[level]}</span>
                <span className="choice-text">{ACCESS_DESCRIPTIONS[level]}</span>
              </label>
            ))}
          </div>
        </fieldset>

        <fieldset className="choice-group" disabled={locked}>
          <legend>
            Calendar
          </legend>
          <label className="switch">
            <input type="checkbox" role="switch" name="calendarEnabled" checked={draft.calendarEnabled} onChange={(e) => setDraft({ ...draft, calendarEnabled: e.target.checked })} />
            <span className="switch-track" aria-hidden="true" />
            <span>Let recruiters schedule interviews in their calendar</span>
          </label>
          <p className="muted small">Turning the calendar off disconnects nobody; turning it on again needs no reconnecting.</p>
        </fieldset>

        <fieldset className="choice-group" disabled={locked}>
          <legend>Mailboxes outside the company</legend>
          <label className="switch">
            <input
              type="checkbox"
              role="switch"
              name="allowExternalMailboxes"
              checked={draft.allowExternalMailboxes}
              onChange={(e) => setDraft({ ...draft, allowExternalMailboxes: e.target.checked })}
            />
            <span className="switch-track" aria-hidden="true" />
            <span>Allow recruiters to connect a mailbox outside your company domains</span>
          </label>
          <p className="muted small">
            Off: only mailboxes at your company domains can be connected; personal addresses such as Gmail or Outlook.com are refused. On: they can be
            connected, and the recruiter is advised to use the company mailbox.
          </p>
        </fieldset>

        <div className="form-actions">
          <ActionButton type="submit" disabledReason={disabledReason} busy={busy} busyLabel="Saving…">
            Save changes
          </ActionButton>
          {changed && !busy && (
            <button type="button" className="button button-quiet" onClick={() => setDraft(saved)}>
              Discard changes
            </button>
          )}
        </div>
        {result && (
          <Alert tone={result.tone} onDismiss={() => setResult(null)}>
            {result.text}
          </Alert>
        )}
      </form>

      <ConfirmDialog
        open={confirming}
        title={affected.length > 0 ? `Disconnect ${seats(affected.length)}?` : providerChange ? 'Change the email provider?' : 'Lower the email access level?'}
        confirmLabel={affected.length > 0 ? `Disconnect ${seats(affected.length)} and save` : 'Save changes'}
        onConfirm={() => void save()}
        onCancel={() => setConfirming(false)}
      >
        {providerChange && (
          <p>
            Switching from {PROVIDER_NAMES[saved.emailProvider!]} to {draft.emailProvider ? PROVIDER_NAMES[draft.emailProvider] : 'no provider'} ends every email and
            calendar connection at {PROVIDER_NAMES[saved.emailProvider!]}.
          </p>
        )}
        {downgrade && (
          <p>
            Lowering email access from <strong>{ACCESS_NAMES[saved.emailAccess]}</strong> to <strong>{ACCESS_NAMES[draft.emailAccess]}</strong> disconnects the email of
            every seat.
          </p>
        )}
        <p className="dialog-count" data-testid="deauthorize-count">
          {affected.length > 0
            ? `${seats(affected.length)} ${affected.length === 1 ? 'is' : 'are'} connected now and will be disconnected: ${affected.map((s) => s.userName ?? 'a parked seat').join(', ')}.`
            : 'No seat is connected now, so nobody is disconnected.'}
        </p>
        <p className="muted">Email already synced stays. Recruiters must connect again to keep syncing.</p>
      </ConfirmDialog>
    </section>
  );
}

function SyncHealth({ health, error, onRefresh }: { health: SeatHealth[] | undefined; error: unknown; onRefresh: () => void }) {
  return (
    <section className="card" aria-labelledby="health-title">
      <div className="card-heading">
        <h2 id="health-title">Sync health</h2>
        <button type="button" className="button button-secondary button-small" onClick={onRefresh}>
          Refresh
        </button>
      </div>
      {error !== undefined && <Alert tone="error">{errorMessage(error)}</Alert>}
      {health === undefined && error === undefined && <Loading label="Loading seats…" />}
      {health && health.length === 0 && <p className="muted">No seats yet.</p>}
      {health && health.length > 0 && (
        <div className="table-scroll" role="region" aria-labelledby="health-title" tabIndex={0}>
          <table className="table">
            <caption className="visually-hidden">Mailbox connection and sync state of each seat</caption>
            <thead>
              <tr>
                <th scope="col">Seat holder</th>
                <th scope="col">Email</th>
                <th scope="col">Calendar</th>
                <th scope="col">Sync</th>
                <th scope="col">Last read from the mailbox</th>
                <th scope="col">Last error</th>
              </tr>
            </thead>
            <tbody>
              {health.map((s) => (
                <tr key={s.seatId}>
                  <th scope="row">{s.userName ?? <span className="muted">Parked seat</span>}</th>
                  <td>
                    <StateBadge state={s.email.state} />
                    {s.email.address && <div className="small">{s.email.address}</div>}
                    {s.email.reason && s.email.state !== 'authorized' && <div className="small muted">{reasonText(s.email.reason, 'admin')}</div>}
                  </td>
                  <td>
                    <StateBadge state={s.calendar.state} />
                    {s.calendar.address && <div className="small">{s.calendar.address}</div>}
                    {s.calendar.reason && s.calendar.state !== 'authorized' && <div className="small muted">{reasonText(s.calendar.reason, 'admin')}</div>}
                  </td>
                  <td>
                    {/* The seat's page says the same: "Up to date" only when mail was read in the last ten minutes. */}
                    <div data-testid="sync-status">{syncStatusText(s.sync)}</div>
                    {s.sync.progress !== null && (
                      <progress className="progress" max={1} value={s.sync.progress} aria-label={`Sync progress of ${s.userName ?? 'parked seat'}`}>
                        {Math.round(s.sync.progress * 100)}%
                      </progress>
                    )}
                    <div className="small muted">
                      {count(s.sync.messagesIngested, 'email')} synced of {count(s.sync.messagesExamined, 'message')} examined
                    </div>
                  </td>
                  <td>{formatDate(s.sync.lastSyncedAt)}</td>
                  <td>{s.sync.lastError ?? <span className="muted">None</span>}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
