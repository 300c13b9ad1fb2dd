import { useEffect, useState, type ReactNode } from 'react';
import { api, errorMessage, type AuthorizationKind, type Grant, type Mailbox, type Settings, type SyncState, type User } from '../api.ts';
import { ActionButton, Alert, ConfirmDialog, Loading, RuleTag, SETTINGS_PATH, StateBadge, navigate, useLoad, useTitle } from '../ui.tsx';
import { outcomeFromQuery, type Outcome } from '../rules.ts';
import { ExportMessages } from './ExportMessages.tsx';
import { PROVIDER_NAMES, count, formatDate, reasonText, refusalText, scopeWords, syncStatusText } from '../words.ts';

const HERE = SETTINGS_PATH;
/** How often the page asks for the sync's progress while the past email is being imported (R-20). */
const PROGRESS_REFRESH_MS = 3000;

export function EmailSettings({ user }: { user: User }) {
  useTitle('My email & calendar');
  const [outcome, setOutcome] = useState<Outcome | null>(() => outcomeFromQuery(window.location.search));
  useEffect(() => {
    // The outcome is shown once: a reload of the page must not announce it again.
    if (window.location.search) navigate(HERE, { replace: true });
  }, []);

  return (
    <div className="stack">
      <div className="page-heading">
        <h1>My email &amp; calendar</h1>
        <p className="muted">Connect your company mailbox so that your conversations with candidates appear in their profiles.</p>
      </div>
      {outcome && (
        <Alert tone={outcome.tone} onDismiss={() => setOutcome(null)}>
          {outcome.text}
        </Alert>
      )}
      {user.seatId ? (
        <SeatMailbox seatId={user.seatId} contractId={user.contractId} />
      ) : (
        <Alert tone="info">You do not hold a seat, so there is no mailbox to connect. Ask your admin to give you a seat.</Alert>
      )}
    </div>
  );
}

function SeatMailbox({ seatId, contractId }: { seatId: string; contractId: string }) {
  const mailbox = useLoad(() => api.mailbox(seatId), [seatId]);
  const settings = useLoad(() => api.settings(contractId), [contractId]);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState<AuthorizationKind | null>(null);
  const [disconnecting, setDisconnecting] = useState<AuthorizationKind | null>(null);
  const [done, setDone] = useState<string | null>(null);
  // R-20: while the historical sync has not finished, its progress moves by itself.
  const email = mailbox.data?.email;
  const importing = email?.state === 'authorized' && (email.sync.phase === 'idle' || email.sync.phase === 'historical');
  const reloadMailbox = mailbox.reload;
  useEffect(() => {
    if (!importing) return;
    const timer = window.setInterval(() => void reloadMailbox(), PROGRESS_REFRESH_MS);
    return () => window.clearInterval(timer);
  }, [importing, reloadMailbox]);

  async function connect(kind: AuthorizationKind) {
    setError(null);
    setDone(null);
    setBusy(kind);
    try {
      const { authorizationUrl } = await api.startAuthorization(seatId, kind, HERE);
      // The provider's consent page; it comes back through /oauth/{provider}/callback to this page.
      window.location.assign(authorizationUrl);
    } catch (e) {
      setError(errorMessage(e));
      setBusy(null);
    }
  }

  async function disconnect(kind: AuthorizationKind) {
    setDisconnecting(null);
    setError(null);
    setDone(null);
    setBusy(kind);
    try {
      await api.disconnect(seatId, kind);
      await mailbox.reload();
      setDone(kind === 'email' ? 'Your email is disconnected. Email already synced stays in the candidate profiles.' : 'Your calendar is disconnected.');
    } catch (e) {
      setError(errorMessage(e));
    } finally {
      setBusy(null);
    }
  }

  if (mailbox.error !== undefined && !mailbox.data) return <Alert tone="error">{errorMessage(mailbox.error)}</Alert>;
  if (!mailbox.data) return <Loading label="Loading your mailbox connection…" />;
  const data: Mailbox = mailbox.data;
  return (
    <>
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
      <GrantCard
        kind="email"
        grant={data.email}
        settings={settings.data}
        busy={busy === 'email'}
        onConnect={() => void connect('email')}
        onDisconnect={() => setDisconnecting('email')}
      >
        {data.email.state !== 'not_authorized' && <SyncProgress sync={data.email.sync} connected={data.email.state === 'authorized'} onRefresh={() => void mailbox.reload()} />}
      </GrantCard>
      <GrantCard
        kind="calendar"
        grant={data.calendar}
        settings={settings.data}
        busy={busy === 'calendar'}
        onConnect={() => void connect('calendar')}
        onDisconnect={() => setDisconnecting('calendar')}
      />
      <ExportMessages seatId={seatId} settings={settings.data} />
      <ConfirmDialog
        open={disconnecting !== null}
        title={disconnecting === 'calendar' ? 'Disconnect your calendar?' : 'Disconnect your email?'}
        confirmLabel="Disconnect"
        onConfirm={() => disconnecting && void disconnect(disconnecting)}
        onCancel={() => setDisconnecting(null)}
      >
        {disconnecting === 'calendar' ? (
          <p>Interviews can no longer be scheduled from the product until you connect again.</p>
        ) : (
          <p>Syncing stops and the access you granted is revoked. Email already synced stays in the candidate profiles.</p>
        )}
      </ConfirmDialog>
    </>
  );
}

/** Why connecting is not possible right now (R-01, R-02, R-05), or null. */
function connectBlocked(kind: AuthorizationKind, settings: Settings | undefined): string | null {
  if (!settings) return 'Loading your company settings…';
  if (!settings.emailProvider) return 'Your admin has not chosen an email provider yet (Google Workspace or Microsoft 365).';
  if (kind === 'email' && settings.emailAccess === 'off') return 'Email is turned off for your company. Your admin can turn it on.';
  if (kind === 'calendar' && !settings.calendarEnabled) return 'The calendar is turned off for your company. Your admin can turn it on.';
  return null;
}

function GrantCard({
  kind,
  grant,
  settings,
  busy,
  onConnect,
  onDisconnect,
  children,
}: {
  kind: AuthorizationKind;
  grant: Grant;
  settings: Settings | undefined;
  busy: boolean;
  onConnect: () => void;
  onDisconnect: () => void;
  children?: ReactNode;
}) {
  const title = kind === 'email' ? 'Email' : 'Calendar';
  const titleId = `${kind}-title`;
  const blocked = connectBlocked(kind, settings);
  const provider = settings?.emailProvider ? PROVIDER_NAMES[settings.emailProvider] : null;
  const connected = grant.state === 'authorized';
  // R-03: after an upgrade to "Send & view", a grant without the send permission must consent again.
  const needsSendScope = kind === 'email' && connected && settings?.emailAccess === 'send_and_view' && !grant.canSend;
  const calendarOff = kind === 'calendar' && connected && settings && !settings.calendarEnabled;

  return (
    <section className="card" aria-labelledby={titleId} data-testid={`${kind}-card`}>
      <div className="card-heading">
        <h2 id={titleId}>{title}</h2>
        <StateBadge state={grant.state} />
      </div>

      {grant.state === 'not_authorized' && (
        <p>
          {kind === 'email'
            ? `Your mailbox is not connected. Connect it${provider ? ` with ${provider}` : ''} to see your candidate conversations here and send email from the product.`
            : `Your calendar is not connected. Connect it${provider ? ` with ${provider}` : ''} to schedule screening interviews from the product.`}
        </p>
      )}

      {grant.state === 'needs_reauthorization' && (
        <Alert tone="error">
          <p>
            <strong>Reconnect needed.</strong> Syncing of your {kind} has stopped; nothing already synced is lost.
          </p>
          {grant.reason && <p data-testid={`${kind}-reason`}>{refusalText(grant.reason)}</p>}
          <p>Reconnect to grant access again.</p>
        </Alert>
      )}

      {grant.state === 'deauthorized' && (
        <Alert tone="info">
          <p>
            Your {kind} was disconnected{grant.deauthorizedAt ? ` on ${formatDate(grant.deauthorizedAt)}` : ''}. {reasonText(grant.reason)}
          </p>
        </Alert>
      )}

      {grant.warnings.map((w) => (
        <Alert key={w.code} tone="warning">
          <p>
            <RuleTag rule={w.rule} /> {w.message}
          </p>
        </Alert>
      ))}

      {needsSendScope && (
        <Alert tone="info">
          <p>Your admin now allows sending email from the product. Reconnect to grant the send permission; until then sending is refused.</p>
        </Alert>
      )}
      {calendarOff && (
        <Alert tone="info">
          <p>The calendar is turned off for your company. Your connection is kept and works again when your admin turns it back on.</p>
        </Alert>
      )}

      {grant.address && grant.state !== 'not_authorized' && (
        <dl className="facts">
          <div>
            <dt>{connected || grant.state === 'needs_reauthorization' ? 'Connected address' : 'Last connected address'}</dt>
            <dd data-testid={`${kind}-address`}>{grant.address}</dd>
          </div>
          {grant.provider && (
            <div>
              <dt>Provider</dt>
              <dd>{PROVIDER_NAMES[grant.provider]}</dd>
            </div>
          )}
          {grant.aliases.length > 0 && (
            <div>
              <dt>Also receives mail as</dt>
              <dd>{grant.aliases.join(', ')}</dd>
            </div>
          )}
          {grant.state === 'authorized' && grant.scopes.length > 0 && (
            <div>
              <dt>Permissions granted</dt>
              <dd>
                <ul className="plain-list">
                  {scopeWords(grant.scopes).map((s) => (
                    <li key={s}>{s}</li>
                  ))}
                </ul>
              </dd>
            </div>
          )}
          {grant.lastAuthorizedAt && (
            <div>
              <dt>{connected ? 'Connected since' : 'Last connected'}</dt>
              <dd>{formatDate(grant.lastAuthorizedAt)}</dd>
            </div>
          )}
        </dl>
      )}

      {children}

      <div className="form-actions">
        {grant.state === 'authorized' ? (
          <>
            {needsSendScope && (
              <ActionButton onClick={onConnect} disabledReason={blocked} busy={busy} busyLabel="Opening the sign-in page…">
                Reconnect
              </ActionButton>
            )}
            <ActionButton variant="secondary" onClick={onDisconnect} busy={busy} busyLabel="Working…">
              Disconnect {kind}
            </ActionButton>
          </>
        ) : grant.state === 'needs_reauthorization' ? (
          <>
            <ActionButton onClick={onConnect} disabledReason={blocked} busy={busy} busyLabel="Opening the sign-in page…">
              Reconnect
            </ActionButton>
            <ActionButton variant="secondary" onClick={onDisconnect} disabledReason={busy ? 'Working…' : null}>
              Disconnect {kind}
            </ActionButton>
          </>
        ) : (
          <ActionButton onClick={onConnect} disabledReason={blocked} busy={busy} busyLabel="Opening the sign-in page…">
            Connect {kind}
          </ActionButton>
        )}
      </div>
    </section>
  );
}

/** What the sync is doing; a grant that is not connected syncs nothing, whatever phase its last run reached. */
function phaseText(sync: SyncState, connected: boolean): string {
  if (!connected) return 'Stopped: nothing new syncs until you connect again. Email already synced stays.';
  if (sync.phase === 'idle') return 'Starting: importing your past email begins in a moment.';
  // The server's status, as sync health shows it: "Up to date" only when mail was read in the last ten minutes.
  return syncStatusText(sync);
}

function SyncProgress({ sync, connected, onRefresh }: { sync: SyncState; connected: boolean; onRefresh: () => void }) {
  const percent = sync.progress === null || !connected ? null : Math.round(sync.progress * 100);
  return (
    <section className="sync-block" aria-labelledby="sync-title">
      <div className="card-heading">
        <h3 id="sync-title">Sync</h3>
        <button type="button" className="button button-quiet button-small" onClick={onRefresh}>
          Refresh
        </button>
      </div>
      <p data-testid="sync-phase">{phaseText(sync, connected)}</p>
      {percent !== null && (
        <div className="progress-row">
          <progress className="progress" max={100} value={percent} aria-label="Historical sync progress">
            {percent}%
          </progress>
          <span>{percent}%</span>
        </div>
      )}
      <dl className="facts">
        <div>
          <dt>Candidate emails synced</dt>
          <dd>{count(sync.messagesIngested, 'email')}</dd>
        </div>
        <div>
          <dt>Messages examined</dt>
          <dd>{count(sync.messagesExamined, 'message')}</dd>
        </div>
        {sync.estimatedCompletionAt && connected && (
          <div>
            <dt>Estimated to finish</dt>
            <dd>{formatDate(sync.estimatedCompletionAt)}</dd>
          </div>
        )}
        <div>
          <dt>Last read from your mailbox</dt>
          <dd data-testid="last-read">{sync.lastSyncedAt ? formatDate(sync.lastSyncedAt) : 'Not yet'}</dd>
        </div>
      </dl>
      {sync.lastError && (
        <Alert tone="error">
          <p>
            <strong>Last error:</strong> {sync.lastError}
          </p>
        </Alert>
      )}
    </section>
  );
}
