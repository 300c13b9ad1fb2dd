import { useEffect, useId, useRef, useState, useSyncExternalStore, type ReactNode } from 'react';
import { ApiError, type GrantState } from './api.ts';
import { SEND_FIXES, STATE_LABELS } from './words.ts';

/** Small building blocks shared by the screens: routing, dialogs, messages, buttons that say why they are off. */

// --- Routing: the History API is enough for a handful of screens.
const listeners = new Set<() => void>();
const notify = () => listeners.forEach((l) => l());
window.addEventListener('popstate', notify);

export function navigate(path: string, options: { replace?: boolean } = {}): void {
  if (options.replace) window.history.replaceState(null, '', path);
  else window.history.pushState(null, '', path);
  notify();
}

/** The current location (path and query), re-rendering on navigation. */
export function useLocation(): { pathname: string; search: string } {
  const href = useSyncExternalStore(
    (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    () => window.location.pathname + window.location.search,
  );
  const url = new URL(href, window.location.origin);
  return { pathname: url.pathname, search: url.search };
}

export function Link({ to, children, current }: { to: string; children: ReactNode; current?: boolean }) {
  return (
    <a
      href={to}
      aria-current={current ? 'page' : undefined}
      onClick={(event) => {
        if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
        event.preventDefault();
        navigate(to);
      }}
    >
      {children}
    </a>
  );
}

/** Sets the document title, so that each screen is announced by name. */
export function useTitle(title: string): void {
  useEffect(() => {
    document.title = `${title} · recruiter-sync`;
  }, [title]);
}

/**
 * The product's not-found page: what is missing, in words, and a way back. Unknown addresses, and records that
 * do not exist or are not the reader's to see (the API answers both with not_found).
 */
export function NotFound({
  title = 'Page not found',
  text = 'There is no page at this address.',
  back,
}: {
  title?: string;
  text?: string;
  back: { to: string; label: string };
}) {
  useTitle(title);
  return (
    <section className="card not-found" aria-labelledby="not-found-title">
      <h1 id="not-found-title">{title}</h1>
      <p>{text}</p>
      <p>
        <Link to={back.to}>{back.label}</Link>
      </p>
    </section>
  );
}

// --- Messages

/** Where a recruiter connects their mailbox and calendar: every "reconnect" fix links here. */
export const SETTINGS_PATH = '/settings/email';

/** A refused mailbox action (send, schedule) with its error and, for the codes that have one, the fix. */
export function ActionErrorAlert({ error, onDismiss }: { error: Error; onDismiss: () => void }) {
  const fix = error instanceof ApiError ? SEND_FIXES[error.code] : undefined;
  return (
    <Alert tone="error" onDismiss={onDismiss}>
      <p>{error.message}</p>
      {fix && (
        <p>
          <strong>How to fix it:</strong> {fix.fix} {fix.settingsLink && <Link to={SETTINGS_PATH}>Open My email &amp; calendar</Link>}
        </p>
      )}
    </Alert>
  );
}

export function Alert({ tone, children, onDismiss }: { tone: 'error' | 'success' | 'warning' | 'info'; children: ReactNode; onDismiss?: () => void }) {
  // Errors interrupt (role=alert); everything else is announced politely.
  return (
    <div className={`alert alert-${tone}`} role={tone === 'error' ? 'alert' : 'status'}>
      <div className="alert-body">{children}</div>
      {onDismiss && (
        <button type="button" className="button-quiet alert-dismiss" onClick={onDismiss} aria-label="Dismiss message">
          ×
        </button>
      )}
    </div>
  );
}

export function StateBadge({ state }: { state: GrantState }) {
  return <span className={`badge badge-${state}`}>{STATE_LABELS[state]}</span>;
}

/**
 * Marks the product rule a control or message implements, for tests and tools only: people read what the rule
 * means in the text beside it, never its id.
 */
export function RuleTag({ rule }: { rule: string }) {
  return <span data-rule={rule} hidden />;
}

export function Loading({ label }: { label: string }) {
  return (
    <p className="loading" role="status">
      <span className="spinner" aria-hidden="true" /> {label}
    </p>
  );
}

/**
 * A button that, when it cannot be used, says why next to it (and to screen readers through
 * aria-describedby): disabled controls never leave people guessing.
 */
export function ActionButton({
  children,
  onClick,
  disabledReason,
  busy,
  busyLabel,
  variant = 'primary',
  type = 'button',
}: {
  children: ReactNode;
  onClick?: () => void;
  disabledReason?: string | null | undefined;
  busy?: boolean;
  busyLabel?: string;
  variant?: 'primary' | 'secondary' | 'danger';
  type?: 'button' | 'submit';
}) {
  const hintId = useId();
  const reason = busy ? (busyLabel ?? 'Working…') : disabledReason;
  return (
    <span className="action">
      <button type={type} className={`button button-${variant}`} disabled={!!reason} aria-describedby={reason ? hintId : undefined} onClick={onClick}>
        {children}
      </button>
      {reason && (
        <span id={hintId} className="hint">
          {reason}
        </span>
      )}
    </span>
  );
}

/** A modal confirmation on the native <dialog>: focus is trapped, Escape cancels, focus returns afterwards. */
export function ConfirmDialog({
  open,
  title,
  children,
  confirmLabel,
  tone = 'danger',
  onConfirm,
  onCancel,
}: {
  open: boolean;
  title: string;
  children: ReactNode;
  confirmLabel: string;
  tone?: 'danger' | 'primary';
  onConfirm: () => void;
  onCancel: () => void;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  const bodyId = useId();
  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    if (open && !dialog.open) {
      const opener = document.activeElement as HTMLElement | null;
      dialog.showModal();
      // The safe choice has the focus: Enter or Space on an accidental open does not confirm.
      dialog.querySelector<HTMLElement>('[data-initial-focus]')?.focus();
      return () => opener?.focus();
    }
    if (!open && dialog.open) dialog.close();
    return undefined;
  }, [open]);
  return (
    <dialog
      ref={ref}
      className="dialog"
      aria-labelledby={titleId}
      aria-describedby={bodyId}
      onCancel={(event) => {
        event.preventDefault();
        onCancel();
      }}
    >
      {open && (
        <form
          method="dialog"
          onSubmit={(event) => {
            event.preventDefault();
            onConfirm();
          }}
        >
          <h2 id={titleId}>{title}</h2>
          <div id={bodyId} className="dialog-body">
            {children}
          </div>
          <div className="dialog-actions">
            <button type="button" className="button button-secondary" onClick={onCancel} data-initial-focus>
              Cancel
            </button>
            <button type="submit" className={`button button-${tone}`}>
              {confirmLabel}
            </button>
          </div>
        </form>
      )}
    </dialog>
  );
}

/** Runs a loader and keeps its result, its error and a way to run it again. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]): { data: T | undefined; error: unknown; reload: () => Promise<void>; loading: boolean } {
  const [state, setState] = useState<{ data: T | undefined; error: unknown; loading: boolean }>({ data: undefined, error: undefined, loading: true });
  const loadRef = useRef(load);
  loadRef.current = load;
  const reload = useRef(async () => {
    try {
      const data = await loadRef.current();
      setState({ data, error: undefined, loading: false });
    } catch (error) {
      setState((s) => ({ data: s.data, error, loading: false }));
    }
  }).current;
  useEffect(() => {
    setState({ data: undefined, error: undefined, loading: true });
    void reload();
    // The caller names what the loader depends on.
  }, deps);
  return { ...state, reload };
}
