import { useEffect, useId, useMemo, useRef, useState, type KeyboardEvent, type Ref } from 'react';
import { ApiError, api, errorMessage, type Candidate, type Contract, type Decision, type Mailbox, type Message, type Settings, type Thread, type User, type Visibility } from '../api.ts';
import { remoteImages, splitQuotedHtml, splitQuotedText } from '../quoted.ts';
import { sendBlocked } from '../rules.ts';
import { ActionButton, ActionErrorAlert, Alert, Link, Loading, NotFound, RuleTag, SETTINGS_PATH, navigate, useLoad, useLocation, useTitle } from '../ui.tsx';
import { VISIBILITY_LABELS, count, decisionText, formatDate } from '../words.ts';
import { CandidateAddresses, NewAddressConfirm, newAddressProblem, SubjectField, subjectProblem } from './Compose.tsx';
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

  // An unknown candidate, or one in another company: the not-found page with a way back, not a bare message.
  if (candidate.error instanceof ApiError && candidate.error.status === 404) {
    return <NotFound title="Candidate not found" text="There is no candidate at this address in your company." back={{ to: '/pipeline', label: 'Back to the pipeline' }} />;
  }
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
        <CandidateAddresses candidate={c} onChanged={candidate.reload} />
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

/** Conversations shown at first, and how many more each "Show more" adds: a candidate with years of mail stays fast. */
const THREAD_PAGE = 20;
/** In a long thread only the latest messages are rendered at first; earlier ones come in batches on request. */
const MESSAGE_WINDOW = 20;
const MESSAGE_BATCH = 50;

const isTyping = (target: EventTarget | null) => target instanceof HTMLElement && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));

function replyBlockedFor(m: Message, seatId: string | null): string | null {
  if (seatId === null) return 'You do not hold a seat, so you have no mailbox to reply from.';
  if (m.ownerSeatId !== seatId) return "A reply goes from the mailbox that holds the conversation, and this one is a colleague's.";
  return null;
}

const senderOf = (m: Message) => m.fromName ?? m.from;

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
  // View only (or off): Reply and the compose pane are not offered at all; one sentence says why and who can change it.
  const sendingOff = settings?.emailAccess === 'view' || settings?.emailAccess === 'off';
  const [replyTo, setReplyTo] = useState<Message | null>(null);
  const [shown, setShown] = useState(THREAD_PAGE);
  const composeRef = useRef<HTMLElement>(null);
  const listRef = useRef<HTMLDivElement>(null);

  const startReply = (message: Message) => {
    setReplyTo(message);
    // The pane comes into view and the message field takes the focus, ready to type.
    requestAnimationFrame(() => {
      composeRef.current?.scrollIntoView({ block: 'nearest' });
      composeRef.current?.querySelector<HTMLTextAreaElement>('textarea')?.focus();
    });
  };

  /** j/k or the arrows move between conversations and messages, Enter opens one (it is a button), r replies. */
  const onKeyDown = (event: KeyboardEvent<HTMLDivElement>) => {
    if (isTyping(event.target) || event.altKey || event.ctrlKey || event.metaKey) return;
    if ((event.target as HTMLElement).closest('[role="menu"]')) return;
    const items = [...(listRef.current?.querySelectorAll<HTMLElement>('[data-nav]') ?? [])];
    const index = items.indexOf(document.activeElement as HTMLElement);
    if (event.key === 'j' || event.key === 'ArrowDown' || event.key === 'k' || event.key === 'ArrowUp') {
      const step = event.key === 'j' || event.key === 'ArrowDown' ? 1 : -1;
      const next = items[index < 0 ? 0 : Math.min(items.length - 1, Math.max(0, index + step))];
      if (!next) return;
      event.preventDefault();
      next.focus();
      next.scrollIntoView({ block: 'nearest' });
    } else if (event.key === 'r') {
      const id = (document.activeElement as HTMLElement | null)?.closest<HTMLElement>('[data-reply-id]')?.dataset.replyId;
      const message = threads.data?.flatMap((t) => t.messages).find((m) => m.id === id);
      if (!message || replyBlockedFor(message, user.seatId)) return;
      event.preventDefault();
      startReply(message);
    }
  };

  const list = threads.data ?? [];
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
          {list.length > 0 && (
            <p className="muted small keyboard-hint">
              Keyboard: <kbd>j</kbd>/<kbd>k</kbd> or arrows to move, <kbd>Enter</kbd> to open, <kbd>r</kbd> to reply.
            </p>
          )}
          <div className="thread-list" ref={listRef} onKeyDown={onKeyDown} data-testid="thread-list">
            {list.slice(0, shown).map((thread, i) => (
              <ThreadView key={thread.threadId} thread={thread} initiallyOpen={i === 0} seatId={user.seatId} onChanged={() => void threads.reload()} onReply={sendingOff ? undefined : startReply} />
            ))}
          </div>
          {list.length > shown && (
            <button type="button" className="button button-secondary" onClick={() => setShown((n) => n + THREAD_PAGE)}>
              Show {count(Math.min(THREAD_PAGE, list.length - shown), 'more conversation')} ({list.length - shown} not shown)
            </button>
          )}
        </section>
        <WhyNotHere seatId={user.seatId} candidate={candidate} />
      </div>
      {sendingOff ? (
        <p className="card muted" data-testid="sending-off">
          {settings?.emailAccess === 'off'
            ? 'Email is turned off for your company, so you cannot send or reply from here. An admin can turn it on under Company email & calendar.'
            : 'Your company’s email access is View only, so you cannot send or reply from here. An admin can change it to Send & view under Company email & calendar.'}
        </p>
      ) : (
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
      )}
    </div>
  );
}

function participantsOf(thread: Thread): string {
  const names = new Map<string, string>();
  for (const m of thread.messages) {
    names.set(m.from.toLowerCase(), names.get(m.from.toLowerCase()) ?? senderOf(m));
    for (const to of m.to) if (!names.has(to.toLowerCase())) names.set(to.toLowerCase(), to);
  }
  const all = [...names.values()];
  return all.length > 3 ? `${all.slice(0, 3).join(', ')} +${all.length - 3}` : all.join(', ');
}

/**
 * A conversation as a collapsed row (the accordion pattern: the heading holds the button); open, its earlier
 * messages are one-line summaries and the latest is expanded. One set of actions for the whole thread; the owner
 * may share it with the company and make it private again.
 */
function ThreadView({ thread, initiallyOpen, seatId, onChanged, onReply }: { thread: Thread; initiallyOpen: boolean; seatId: string | null; onChanged: () => void; onReply?: ((m: Message) => void) | undefined }) {
  const bodyId = useId();
  const [open, setOpen] = useState(initiallyOpen);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [windowSize, setWindowSize] = useState(MESSAGE_WINDOW);
  const owns = thread.messages.some((m) => m.isOwner);
  const next: Visibility = thread.visibility === 'contract' ? 'private' : 'contract';
  // Oldest first, as a mail client reads a conversation: the latest at the end, open.
  const messages = useMemo(() => [...thread.messages].sort((a, b) => a.sentAt.localeCompare(b.sentAt)), [thread.messages]);
  const latest = messages[messages.length - 1]!;
  const firstShown = messages.length > windowSize + 1 ? messages.length - windowSize : 1;
  const hidden = firstShown - 1;

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
    <article className={`thread${open ? ' thread-open' : ''}`} data-testid="thread" data-reply-id={latest.id}>
      <header className="thread-row" onClick={(e) => e.target === e.currentTarget && setOpen((o) => !o)}>
        <h3>
          <button type="button" className="thread-toggle" aria-expanded={open} aria-controls={bodyId} data-nav="" onClick={() => setOpen((o) => !o)}>
            {thread.subject || '(no subject)'}
          </button>
        </h3>
        <p className="muted small thread-summary" onClick={() => setOpen((o) => !o)}>
          <span className="thread-participants">{participantsOf(thread)}</span> · {count(thread.messages.length, 'message')} · last activity {formatDate(thread.lastActivityAt)}
        </p>
        <VisibilityBadge visibility={thread.visibility} />
      </header>
      {open && (
        <div id={bodyId} className="thread-body">
          <div className="thread-actions" role="group" aria-label="Conversation actions">
            {onReply && (
              <ActionButton variant="secondary" onClick={() => onReply(latest)} disabledReason={replyBlockedFor(latest, seatId)}>
                Reply
              </ActionButton>
            )}
            {owns ? (
              <ActionButton variant="secondary" onClick={() => void change()} busy={busy} busyLabel="Saving…">
                {next === 'contract' ? 'Share thread with the company' : 'Make thread private'}
              </ActionButton>
            ) : (
              <span className="hint">Shared by a colleague: only they can make it private.</span>
            )}
          </div>
          {error && (
            <Alert tone="error" onDismiss={() => setError(null)}>
              {error}
            </Alert>
          )}
          <ol className="message-list">
            <li>
              <MessageView message={messages[0]!} latest={messages.length === 1} seatId={seatId} onChanged={onChanged} onReply={onReply} />
            </li>
            {hidden > 0 && (
              <li>
                <button type="button" className="button button-quiet earlier-messages" data-nav="" onClick={() => setWindowSize((w) => w + MESSAGE_BATCH)}>
                  {count(hidden, 'earlier message')} — show {Math.min(hidden, MESSAGE_BATCH)} more
                </button>
              </li>
            )}
            {messages.slice(firstShown).map((m) => (
              <li key={m.id}>
                <MessageView message={m} latest={m === latest} seatId={seatId} onChanged={onChanged} onReply={onReply} />
              </li>
            ))}
          </ol>
        </div>
      )}
    </article>
  );
}

function VisibilityBadge({ visibility }: { visibility: Visibility }) {
  return <span className={`badge badge-visibility-${visibility}`}>{VISIBILITY_LABELS[visibility]}</span>;
}

function formatSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} bytes`;
  if (bytes < 1024 * 1024) return `${Math.round(bytes / 1024)} KB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}

/** A message: a one-line summary (sender, first words, date) until opened; open, its body, attachments and menu. */
function MessageView({ message: m, latest, seatId, onChanged, onReply }: { message: Message; latest: boolean; seatId: string | null; onChanged: () => void; onReply?: ((m: Message) => void) | undefined }) {
  const [expanded, setExpanded] = useState(latest);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [plain, setPlain] = useState(false);
  const [images, setImages] = useState(false);
  const bodyId = useId();
  const next: Visibility = m.visibility === 'contract' ? 'private' : 'contract';
  const replyBlocked = replyBlockedFor(m, seatId);
  const blocked = useMemo(() => (m.bodyHtml === null ? 0 : remoteImages(m.bodyHtml).count), [m.bodyHtml]);
  // Opening or closing by hand keeps the keyboard focus on the message (its new header or summary).
  const summaryRef = useRef<HTMLButtonElement>(null);
  const headerRef = useRef<HTMLButtonElement>(null);
  const toggledByHand = useRef(false);
  useEffect(() => {
    if (!toggledByHand.current) return;
    toggledByHand.current = false;
    (expanded ? headerRef : summaryRef).current?.focus();
  }, [expanded]);
  const toggle = (open: boolean) => {
    toggledByHand.current = true;
    setExpanded(open);
  };

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
  if (!expanded) {
    return (
      <div className={`message message-${m.direction} message-collapsed`} data-testid="message" data-reply-id={m.id}>
        <button ref={summaryRef} type="button" className="message-summary" aria-expanded={false} aria-controls={bodyId} data-nav="" onClick={() => toggle(true)}>
          <span className="message-from">{senderOf(m)}</span>
          <span className="message-first-words">{m.snippet}</span>
          <time dateTime={m.sentAt} className="muted small">
            {formatDate(m.sentAt)}
          </time>
        </button>
      </div>
    );
  }
  const menu: MenuItem[] = [
    ...(onReply ? [{ label: 'Reply to this message', onSelect: () => onReply(m), disabled: replyBlocked }] : []),
    ...(m.isOwner ? [{ label: busy ? 'Saving…' : next === 'contract' ? 'Share message with the company' : 'Make message private', onSelect: () => void change(), disabled: busy ? 'Saving…' : null }] : []),
    ...(m.bodyHtml !== null ? [{ label: plain ? 'Show formatted' : 'Show plain text', onSelect: () => setPlain((p) => !p), disabled: null }] : []),
  ];
  return (
    <div className={`message message-${m.direction}`} data-testid="message" data-reply-id={m.id} id={bodyId}>
      <div className="message-meta">
        <button ref={headerRef} type="button" className="message-collapse" aria-expanded={true} data-nav="" onClick={() => toggle(false)} disabled={latest} title={latest ? undefined : 'Collapse'}>
          <span className={`direction direction-${m.direction}`}>{m.direction === 'inbound' ? 'Received' : 'Sent'}</span>
          <span className="message-from">{sender}</span>
        </button>
        <time dateTime={m.sentAt} className="muted small">
          {formatDate(m.sentAt)}
        </time>
        <VisibilityBadge visibility={m.visibility} />
        {m.origin === 'sent_from_product' && <span className="muted small">sent from recruiter-sync</span>}
        <MessageMenu label={`Actions for the message from ${senderOf(m)}`} items={menu} />
      </div>
      <p className="muted small message-to">To: {m.to.join(', ') || '—'}</p>
      {blocked > 0 && !plain && (
        <p className="images-blocked small" data-testid="images-blocked">
          {images ? 'Remote images are shown for this message, loaded through recruiter-sync so the sender never sees your address.' : `${count(blocked, 'remote image')} hidden: images from the web can tell the sender when you read this.`}{' '}
          {!images && (
            <button type="button" className="button button-quiet button-small" onClick={() => setImages(true)}>
              Show images
            </button>
          )}
        </p>
      )}
      {m.bodyHtml !== null && !plain ? <HtmlBody html={m.bodyHtml} messageId={m.id} showImages={images} title={`Message from ${sender}`} /> : <TextBody text={m.bodyText ?? m.snippet} />}
      {m.attachments.length > 0 && (
        <ul className="attachments" aria-label="Attachments">
          {m.attachments.map((a) => (
            <li key={a.id}>
              {/* Served as a download only (Content-Disposition: attachment): the file came from the sender. */}
              <a href={api.attachmentUrl(m.id, a.id)} download={a.filename} className="attachment">
                <span className="attachment-name">{a.filename}</span>
                <span className="muted small">
                  {a.contentType} · {formatSize(a.sizeBytes)}
                </span>
              </a>
            </li>
          ))}
        </ul>
      )}
      {error && (
        <Alert tone="error" onDismiss={() => setError(null)}>
          {error}
        </Alert>
      )}
    </div>
  );
}

interface MenuItem {
  label: string;
  onSelect: () => void;
  disabled: string | null;
}

/** The menu button pattern: arrows move between items, Escape closes and gives the focus back. */
function MessageMenu({ label, items }: { label: string; items: MenuItem[] }) {
  const [open, setOpen] = useState(false);
  const menuId = useId();
  const buttonRef = useRef<HTMLButtonElement>(null);
  const menuRef = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (open) menuRef.current?.querySelector<HTMLButtonElement>('[role="menuitem"]:not([disabled])')?.focus();
  }, [open]);
  const close = (focus: boolean) => {
    setOpen(false);
    if (focus) buttonRef.current?.focus();
  };
  const onKey = (event: KeyboardEvent<HTMLDivElement>) => {
    const entries = [...(menuRef.current?.querySelectorAll<HTMLButtonElement>('[role="menuitem"]:not([disabled])') ?? [])];
    const index = entries.indexOf(document.activeElement as HTMLButtonElement);
    if (event.key === 'Escape') {
      event.preventDefault();
      close(true);
    } else if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
      event.preventDefault();
      entries[(index + (event.key === 'ArrowDown' ? 1 : -1) + entries.length) % entries.length]?.focus();
    }
  };
  return (
    <div
      className="menu"
      onBlur={(event) => {
        if (!event.currentTarget.contains(event.relatedTarget as Node | null)) setOpen(false);
      }}
    >
      <button ref={buttonRef} type="button" className="button button-quiet button-small menu-button" aria-haspopup="menu" aria-expanded={open} aria-controls={menuId} aria-label={label} onClick={() => setOpen((o) => !o)}>
        ⋯
      </button>
      {open && (
        <div role="menu" id={menuId} ref={menuRef} className="menu-list" aria-label={label} onKeyDown={onKey}>
          {items.map((item) => (
            <button
              key={item.label}
              type="button"
              role="menuitem"
              disabled={!!item.disabled}
              title={item.disabled ?? undefined}
              onClick={() => {
                close(true);
                item.onSelect();
              }}
            >
              {item.label}
              {item.disabled && <span className="hint">{item.disabled}</span>}
            </button>
          ))}
        </div>
      )}
    </div>
  );
}

/** Plain text with its quoted tail folded behind "…". */
function TextBody({ text }: { text: string }) {
  const { body, quoted } = useMemo(() => splitQuotedText(text), [text]);
  const [showQuoted, setShowQuoted] = useState(false);
  return (
    <div className="message-text-body">
      <pre className="message-text">{body}</pre>
      {quoted !== null && (
        <>
          <button type="button" className="quoted-toggle" aria-expanded={showQuoted} aria-label={showQuoted ? 'Hide quoted text' : 'Show quoted text'} title={showQuoted ? 'Hide quoted text' : 'Show quoted text'} onClick={() => setShowQuoted((s) => !s)}>
            …
          </button>
          {showQuoted && <pre className="message-text message-quoted">{quoted}</pre>}
        </>
      )}
    </div>
  );
}

const FRAME_STYLE =
  'html{overflow-y:hidden}body{font:15px/1.5 system-ui,sans-serif;color:#1b2230;margin:8px;overflow-wrap:anywhere;overflow-x:auto}img{max-width:100%;height:auto}' +
  'blockquote{border-left:3px solid #dde1ea;margin:0 0 0 4px;padding-left:10px;color:#4d5668}' +
  'img[data-remote-src]:not([src]),img[data-blocked-src]{display:inline-block;min-width:1em;min-height:1em;background:#eef0f4;outline:1px dashed #c3c9d5}' +
  'details.quoted>summary{display:inline-block;list-style:none;cursor:pointer;padding:0 6px;border-radius:6px;background:#eef0f4;color:#394150;font-weight:700;letter-spacing:1px}' +
  'details.quoted>summary::-webkit-details-marker{display:none}details.quoted>summary:focus-visible{outline:2px solid #2f5bd3;outline-offset:2px}';

/**
 * Email HTML, already sanitised by the server, is shown only inside a sandboxed frame: the sandbox allows no
 * scripts, no forms and no popups, and the page's Content-Security-Policy (inherited by the srcdoc document) lets
 * it load nothing but inline images and the product's own URLs. `allow-same-origin` without `allow-scripts` is safe: it
 * lets this page read the frame's height (so the frame fits its content, no inner scrollbar), while nothing inside the
 * frame can run to use that origin. Remote images stay placeholders until the reader asks for them, and are then
 * loaded through the product's image proxy (the sender's server never sees the reader); the quoted tail is folded in a
 * native <details> (it opens without script), and the frame grows with it.
 */
function HtmlBody({ html, title, messageId, showImages }: { html: string; title: string; messageId: string; showImages: boolean }) {
  const ref = useRef<HTMLIFrameElement>(null);
  const [height, setHeight] = useState<number | undefined>(undefined);
  const doc = useMemo(() => {
    const { body, quoted } = splitQuotedHtml(html);
    const proxy = showImages ? (address: string) => api.messageImageUrl(messageId, address) : undefined;
    const shown = (part: string) => remoteImages(part, proxy).html;
    const fold = quoted === null ? '' : `<details class="quoted"><summary title="Show quoted text" aria-label="Show quoted text">…</summary>${shown(quoted)}</details>`;
    return `<!doctype html><html><head><meta charset="utf-8"><base target="_blank"><style>${FRAME_STYLE}</style></head><body>${shown(body)}${fold}</body></html>`;
  }, [html, messageId, showImages]);
  const observer = useRef<ResizeObserver | null>(null);
  useEffect(() => () => observer.current?.disconnect(), []);
  const onLoad = () => {
    const frameDocument = ref.current?.contentDocument;
    if (!frameDocument?.body) return;
    const measure = () => setHeight(Math.ceil(frameDocument.documentElement.scrollHeight));
    measure();
    observer.current?.disconnect();
    observer.current = new ResizeObserver(measure);
    observer.current.observe(frameDocument.body);
  };
  return <iframe ref={ref} className="message-frame" sandbox="allow-same-origin" srcDoc={doc} title={title} style={height === undefined ? undefined : { height }} referrerPolicy="no-referrer" onLoad={onLoad} />;
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
  // The user's word that a new address joins the profile; asked again whenever the address changes.
  const [confirmedAddress, setConfirmedAddress] = useState<string | null>(null);
  const ids = { to: useId(), body: useId(), list: useId(), toHint: useId() };

  useEffect(() => {
    if (replyTo) {
      setSubject(replyTo.subject);
      if (replyTo.direction === 'inbound') setTo(replyTo.from);
      setSent(null);
    }
  }, [replyTo]);

  const known = candidate.emails.some((e) => e.toLowerCase() === to.trim().toLowerCase());
  const missing = !to.trim()
    ? 'Type the candidate’s email address.'
    : (newAddressProblem(candidate, to, confirmedAddress === to.trim()) ?? (!subject.trim() ? 'Write a subject.' : (subjectProblem(subject) ?? (!body.trim() ? 'Write a message.' : null))));

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
        <NewAddressConfirm candidate={candidate} to={to} confirmed={confirmedAddress === to.trim()} onChange={(yes) => setConfirmedAddress(yes ? to.trim() : null)} />
        <SubjectField value={subject} onChange={setSubject} />
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
