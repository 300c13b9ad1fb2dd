import { useEffect, useId, useRef, useState, type KeyboardEvent, type Ref } from 'react';
import type { ApiError} from '../api.ts';
import { api, errorMessage, type Candidate, type Contract, type Decision, type Mailbox, type Message, type Settings, type Thread, type User, type Visibility } from '../api.ts';
import { sendBlocked } from '../rules.ts';
import { ActionButton, ActionErrorAlert, Alert, Link, Loading, RuleTag, SETTINGS_PATH, navigate, useLoad, useLocation, useTitle } from '../ui.tsx';
import { VISIBILITY_LABELS, count, decisionText, formatDate } from '../words.ts';
import { ScheduleScreening } from './ScheduleScreening.tsx';

type Tab = 'messages' | 'schedule';
const TABS: Array<{ id: Tab; label: string }> = [
  { id: 'messages', label: 'Messages' },
  { id: 'schedule', label: 'Schedule screening' },
];

/** Screens 5–7: a candidate's profile with their messages, the compose pane and scheduling. */
export function CandidateProfile({ user, candidateId, contract }: { user: User; candidateId: string; contract: Contract | null }) {
  const candidate = useLoad(() => api.candidate(candidateId), [candidateId]);
  const settings = useLoad(() => api.settings(user.contractId), [user.contractId]);
  const seatId = user.seatId;
  const mailbox = useLoad(() => (seatId ? api.mailbox(seatId) : Promise.resolve(undefined)), [seatId]);
  const { search } = useLocation();
  const tab: Tab = new URLSearchParams(search).get('tab') === 'schedule' ? 'schedule' : 'messages';
  useTitle(candidate.data ? `${candidate.data.name} · ${tab === 'schedule' ? 'Schedule screening' : 'Messages'}` : 'Candidate');
  const tabIds = { messages: useId(), schedule: useId() };
  const panelId = useId();

  if (candidate.error !== undefined) return <Alert tone="error">{errorMessage(candidate.error)}</Alert>;
  if (!candidate.data) return <Loading label="Loading the candidate…" />;
  const c = candidate.data;

  const select = (next: Tab) => navigate(`/candidates/${candidateId}?tab=${next}`, { replace: true });
  const onTabKey = (event: KeyboardEvent) => {
    // The ARIA tabs pattern: arrows move between tabs, Home and End jump to the ends.
    const index = TABS.findIndex((t) => t.id === tab);
    let next: number | null = null;
    if (event.key === 'ArrowRight') next = (index + 1) % TABS.length;
    else if (event.key === 'ArrowLeft') next = (index - 1 + TABS.length) % TABS.length;
    else if (event.key === 'Home') next = 0;
    else if (event.key === 'End') next = TABS.length - 1;
    if (next === null) return;
    event.preventDefault();
    const target = TABS[next]!;
    select(target.id);
    document.getElementById(tabIds[target.id])?.focus();
  };

  return (
    <div className="stack">
      <div className="page-heading">
        <p className="breadcrumb">
          <Link to="/pipeline">Pipeline</Link>
        </p>
        <h1>{c.name}</h1>
        <p className="muted" data-testid="candidate-emails">
          {c.emails.length > 0 ? c.emails.join(', ') : 'No email address yet'}
        </p>
      </div>
      <div role="tablist" aria-label="Candidate profile" className="tabs" onKeyDown={onTabKey}>
        {TABS.map((t) => (
          <button
            key={t.id}
            id={tabIds[t.id]}
            type="button"
            role="tab"
            className="tab"
            aria-selected={tab === t.id}
            aria-controls={panelId}
            tabIndex={tab === t.id ? 0 : -1}
            onClick={() => select(t.id)}
          >
            {t.label}
          </button>
        ))}
      </div>
      <div role="tabpanel" id={panelId} aria-labelledby={tabIds[tab]} className="tab-panel">
        {tab === 'messages' ? (
          <MessagesTab
            user={user}
            candidate={c}
            settings={settings.data}
            mailbox={mailbox.data}
            suspended={contract?.status === 'suspended'}
            onCandidateChanged={() => void candidate.reload()}
          />
        ) : (
          <ScheduleScreening user={user} candidate={c} settings={settings.data} mailbox={mailbox.data} />
        )}
      </div>
    </div>
  );
}

function MessagesTab({
  user,
  candidate,
  settings,
  mailbox,
  suspended,
  onCandidateChanged,
}: {
  user: User;
  candidate: Candidate;
  settings: Settings | undefined;
  mailbox: Mailbox | undefined;
  suspended: boolean;
  onCandidateChanged: () => void;
}) {
  const threads = useLoad(() => api.candidateMessages(candidate.id), [candidate.id]);
  const [replyTo, setReplyTo] = useState<Message | null>(null);
  const composeRef = useRef<HTMLElement>(null);

  const startReply = (message: Message) => {
    setReplyTo(message);
    // The pane comes into view and the message field takes the focus, ready to type.
    requestAnimationFrame(() => {
      composeRef.current?.scrollIntoView({ block: 'nearest' });
      composeRef.current?.querySelector<HTMLTextAreaElement>('textarea')?.focus();
    });
  };

  return (
    <div className="profile-layout">
      <div className="stack profile-main">
        <section className="card" aria-labelledby="threads-title">
          <div className="card-heading">
            <h2 id="threads-title">Conversations</h2>
            <button type="button" className="button button-quiet button-small" onClick={() => void threads.reload()}>
              Refresh
            </button>
          </div>
          {threads.error !== undefined && <Alert tone="error">{errorMessage(threads.error)}</Alert>}
          {!threads.data && threads.error === undefined && <Loading label="Loading messages…" />}
          {threads.data && threads.data.length === 0 && (
            <p className="muted">No messages with {candidate.name} that you can see. Your own synced email and what colleagues shared with the company appear here.</p>
          )}
          {threads.data?.map((thread) => (
            <ThreadView key={thread.threadId} thread={thread} seatId={user.seatId} onChanged={() => void threads.reload()} onReply={startReply} />
          ))}
        </section>
        <WhyNotHere seatId={user.seatId} candidate={candidate} />
      </div>
      <ComposePane
        ref={composeRef}
        candidate={candidate}
        blocked={sendBlocked({ seatId: user.seatId, settings, mailbox, suspended })}
        replyTo={replyTo}
        onCancelReply={() => setReplyTo(null)}
        onSent={() => {
          setReplyTo(null);
          void threads.reload();
          onCandidateChanged();
        }}
      />
    </div>
  );
}

/** The owner may share a thread or message with the company and make it private again. */
function ThreadView({ thread, seatId, onChanged, onReply }: { thread: Thread; seatId: string | null; onChanged: () => void; onReply: (m: Message) => void }) {
  const titleId = useId();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const owns = thread.messages.some((m) => m.isOwner);
  const next: Visibility = thread.visibility === 'contract' ? 'private' : 'contract';
  // Newest message first, as the threads themselves are ordered.
  const messages = [...thread.messages].sort((a, b) => b.sentAt.localeCompare(a.sentAt));

  async function change() {
    setBusy(true);
    setError(null);
    try {
      await api.setThreadVisibility(thread.threadId, next);
      onChanged();
    } catch (e) {
      setError(errorMessage(e));
    } finally {
      setBusy(false);
    }
  }

  return (
    <article className="thread" aria-labelledby={titleId} data-testid="thread">
      <header className="thread-header">
        <div>
          <h3 id={titleId}>{thread.subject || '(no subject)'}</h3>
          <p className="muted small">
            {count(thread.messages.length, 'message')} · last activity {formatDate(thread.lastActivityAt)}
          </p>
        </div>
        <div className="thread-actions">
          <VisibilityBadge visibility={thread.visibility} />
          {owns ? (
            <ActionButton variant="secondary" onClick={() => void change()} busy={busy} busyLabel="Saving…">
              {next === 'contract' ? 'Share thread with the company' : 'Make thread private'}
            </ActionButton>
          ) : (
            <span className="hint">Shared by a colleague: only they can make it private.</span>
          )}
        </div>
      </header>
      {error && (
        <Alert tone="error" onDismiss={() => setError(null)}>
          {error}
        </Alert>
      )}
      <ol className="message-list">
        {messages.map((m) => (
          <li key={m.id}>
            <MessageView message={m} seatId={seatId} onChanged={onChanged} onReply={onReply} />
          </li>
        ))}
      </ol>
    </article>
  );
}

function VisibilityBadge({ visibility }: { visibility: Visibility }) {
  return <span className={`badge badge-visibility-${visibility}`}>{VISIBILITY_LABELS[visibility]}</span>;
}

function MessageView({ message: m, seatId, onChanged, onReply }: { message: Message; seatId: string | null; onChanged: () => void; onReply: (m: Message) => void }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [plain, setPlain] = useState(false);
  const next: Visibility = m.visibility === 'contract' ? 'private' : 'contract';
  const replyBlocked =
    seatId === null
      ? 'You do not hold a seat, so you have no mailbox to reply from.'
      : m.ownerSeatId !== seatId
        ? "A reply goes from the mailbox that holds the conversation, and this one is a colleague's."
        : null;

  async function change() {
    setBusy(true);
    setError(null);
    try {
      await api.setMessageVisibility(m.id, next);
      onChanged();
    } catch (e) {
      setError(errorMessage(e));
    } finally {
      setBusy(false);
    }
  }

  const sender = m.fromName ? `${m.fromName} <${m.from}>` : m.from;
  return (
    <div className={`message message-${m.direction}`} data-testid="message">
      <div className="message-meta">
        <span className={`direction direction-${m.direction}`}>{m.direction === 'inbound' ? 'Received' : 'Sent'}</span>
        <span className="message-from">{sender}</span>
        <time dateTime={m.sentAt} className="muted small">
          {formatDate(m.sentAt)}
        </time>
        <VisibilityBadge visibility={m.visibility} />
        {m.origin === 'sent_from_product' && <span className="muted small">sent from recruiter-sync</span>}
      </div>
      <p className="muted small message-to">To: {m.to.join(', ') || '—'}</p>
      {m.bodyHtml !== null && !plain ? <HtmlBody html={m.bodyHtml} text={m.bodyText ?? m.snippet} title={`Message from ${sender}`} /> : <pre className="message-text">{m.bodyText ?? m.snippet}</pre>}
      {error && (
        <Alert tone="error" onDismiss={() => setError(null)}>
          {error}
        </Alert>
      )}
      <div className="message-actions">
        <ActionButton variant="secondary" onClick={() => onReply(m)} disabledReason={replyBlocked}>
          Reply
        </ActionButton>
        {m.isOwner && (
          <ActionButton variant="secondary" onClick={() => void change()} busy={busy} busyLabel="Saving…">
            {next === 'contract' ? 'Share message with the company' : 'Make message private'}
          </ActionButton>
        )}
        {m.bodyHtml !== null && (
          <button type="button" className="button button-quiet button-small" onClick={() => setPlain((p) => !p)} aria-pressed={plain}>
            {plain ? 'Show formatted' : 'Show plain text'}
          </button>
        )}
      </div>
    </div>
  );
}

/**
 * Email HTML, already sanitised by the server, is still shown only inside a sandboxed frame: `sandbox=""`
 * allows no scripts, no forms, no popups and gives the document an opaque origin, so even a payload the
 * sanitiser missed can neither run nor reach this page. Links open nowhere from inside it.
 */
function HtmlBody({ html, text, title }: { html: string; text: string; title: string }) {
  // The frame cannot be measured from outside (opaque origin): size it from the text and let people resize it.
  const lines = text.split('\n').reduce((n, line) => n + Math.max(1, Math.ceil(line.length / 90)), 0);
  const blocks = (html.match(/<(p|div|br|li|tr|h[1-6]|blockquote)\b/gi) ?? []).length;
  const height = Math.min(560, Math.max(96, Math.max(lines, blocks) * 30 + 40));
  const doc = `<!doctype html><html><head><meta charset="utf-8"><base target="_blank"><style>body{font:15px/1.5 system-ui,sans-serif;color:#1b2230;margin:8px;overflow-wrap:anywhere}img{max-width:100%;height:auto}blockquote{border-left:3px solid #dde1ea;margin:0 0 0 4px;padding-left:10px;color:#4d5668}</style></head><body>${html}</body></html>`;
  return <iframe className="message-frame" sandbox="" srcDoc={doc} title={title} style={{ height }} referrerPolicy="no-referrer" />;
}

/** "Why isn't an email here?": the seat's decision log for an address, each decision with its rule. */
function WhyNotHere({ seatId, candidate }: { seatId: string | null; candidate: Candidate }) {
  const [address, setAddress] = useState(candidate.emails[0] ?? '');
  const [result, setResult] = useState<{ address: string; decisions: Decision[] } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const inputId = useId();
  const hintId = useId();
  const trimmed = address.trim();
  const blocked = !seatId ? 'You do not hold a seat, so there is no mailbox sync to ask.' : trimmed.length < 3 ? 'Type an email address first.' : null;

  async function check() {
    if (!seatId || blocked) return;
    setBusy(true);
    setError(null);
    try {
      setResult({ address: trimmed, decisions: await api.decisions(seatId, trimmed) });
    } catch (e) {
      setError(errorMessage(e));
    } finally {
      setBusy(false);
    }
  }

  return (
    <section className="card" aria-labelledby="why-title" data-testid="why-not-here">
      <h2 id="why-title">Why isn’t an email here?</h2>
      <p className="muted" id={hintId}>
        Type the address the email was sent from or to. Your mailbox sync keeps a log of every email it examined and the rule that decided it.
      </p>
      <form
        className="inline-form"
        onSubmit={(event) => {
          event.preventDefault();
          void check();
        }}
      >
        <div className="field grow">
          <label htmlFor={inputId}>Email address</label>
          <input id={inputId} type="email" value={address} onChange={(e) => setAddress(e.target.value)} aria-describedby={hintId} autoComplete="off" />
        </div>
        <ActionButton type="submit" variant="secondary" disabledReason={blocked} busy={busy} busyLabel="Checking…">
          Check
        </ActionButton>
      </form>
      {error && <Alert tone="error">{error}</Alert>}
      {result && result.decisions.length === 0 && (
        <Alert tone="info">
          Your mailbox sync has examined no email with {result.address}. Email appears only after your mailbox is connected and has synced; check the address, and that the
          email is in the mailbox you connected.
        </Alert>
      )}
      {result && result.decisions.length > 0 && (
        <ol className="decision-list" aria-label={`Sync decisions for ${result.address}, newest first`}>
          {result.decisions.map((d) => (
            <li key={d.providerMessageId ?? `address-${d.decidedAt}`} className={`decision decision-${d.ingested ? 'synced' : 'skipped'}`}>
              <div className="decision-head">
                <strong>{d.ingested ? 'Synced' : 'Not synced'}</strong>
                {d.rule && <RuleTag rule={d.rule} />}
                {typeof d.detail.ruleTitle === 'string' && <span>{d.detail.ruleTitle}</span>}
              </div>
              <p>{decisionText(d)}</p>
              <p className="muted small">
                {typeof d.detail.messageDate === 'string' ? `Email of ${formatDate(d.detail.messageDate)}; ` : ''}decided {formatDate(d.decidedAt)}
              </p>
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}

/** Screen 6: email the candidate from one's own mailbox, or reply in a thread. */
function ComposePane({
  ref,
  candidate,
  blocked,
  replyTo,
  onCancelReply,
  onSent,
}: {
  ref: Ref<HTMLElement>;
  candidate: Candidate;
  blocked: string | null;
  replyTo: Message | null;
  onCancelReply: () => void;
  onSent: () => void;
}) {
  const [to, setTo] = useState(candidate.emails[0] ?? '');
  const [subject, setSubject] = useState('');
  const [body, setBody] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | Error | null>(null);
  const [sent, setSent] = useState<string | null>(null);
  const ids = { to: useId(), subject: useId(), body: useId(), list: useId(), toHint: useId() };

  useEffect(() => {
    if (replyTo) {
      setSubject(replyTo.subject);
      if (replyTo.direction === 'inbound') setTo(replyTo.from);
      setSent(null);
    }
  }, [replyTo]);

  const known = candidate.emails.some((e) => e.toLowerCase() === to.trim().toLowerCase());
  const missing = !to.trim() ? 'Type the candidate’s email address.' : !subject.trim() ? 'Write a subject.' : !body.trim() ? 'Write a message.' : null;

  async function send() {
    setBusy(true);
    setError(null);
    setSent(null);
    try {
      const message = await api.sendEmail(candidate.id, {
        subject: subject.trim(),
        bodyText: body,
        to: to.trim(),
        ...(replyTo ? { replyToMessageId: replyTo.id } : {}),
      });
      setSent(`Sent to ${message.to.join(', ')}: “${message.subject}”. It is private to you until you share it.`);
      setSubject('');
      setBody('');
      onSent();
    } catch (e) {
      setError(e instanceof Error ? e : new Error(errorMessage(e)));
    } finally {
      setBusy(false);
    }
  }

  return (
    <section className="card compose" aria-labelledby="compose-title" ref={ref} data-testid="compose">
      <h2 id="compose-title">{replyTo ? 'Reply' : 'Email'}</h2>
      {blocked && (
        <Alert tone="info">
          <p>{blocked}</p>
          {/mailbox|connect/i.test(blocked) && (
            <p>
              <Link to={SETTINGS_PATH}>Open My email &amp; calendar</Link>
            </p>
          )}
        </Alert>
      )}
      {replyTo && (
        <div className="reply-to" data-testid="reply-to">
          <span>
            Replying to “{replyTo.subject || '(no subject)'}” from {replyTo.fromName ?? replyTo.from}, in the same thread.
          </span>
          <button type="button" className="button button-quiet button-small" onClick={onCancelReply}>
            Cancel reply
          </button>
        </div>
      )}
      {sent && (
        <Alert tone="success" onDismiss={() => setSent(null)}>
          {sent}
        </Alert>
      )}
      {error && <ActionErrorAlert error={error} onDismiss={() => setError(null)} />}
      <form
        className="stack-tight"
        onSubmit={(event) => {
          event.preventDefault();
          if (!blocked && !missing) void send();
        }}
      >
        <div className="field">
          <label htmlFor={ids.to}>To</label>
          <input id={ids.to} type="email" list={ids.list} value={to} onChange={(e) => setTo(e.target.value)} aria-describedby={ids.toHint} autoComplete="off" />
          <datalist id={ids.list}>
            {candidate.emails.map((e) => (
              <option key={e} value={e} />
            ))}
          </datalist>
          <span id={ids.toHint} className="hint">
            {to.trim() && !known ? 'A new address: it is saved to the profile when you send.' : 'Sent from your own connected mailbox.'}
          </span>
        </div>
        <div className="field">
          <label htmlFor={ids.subject}>Subject</label>
          <input id={ids.subject} type="text" value={subject} onChange={(e) => setSubject(e.target.value)} maxLength={998} />
        </div>
        <div className="field">
          <label htmlFor={ids.body}>Message</label>
          <textarea id={ids.body} rows={8} value={body} onChange={(e) => setBody(e.target.value)} />
        </div>
        <div className="form-actions">
          <ActionButton type="submit" disabledReason={blocked ?? missing} busy={busy} busyLabel="Sending…">
            Send
          </ActionButton>
        </div>
      </form>
    </section>
  );
}
