import { useCallback, useEffect, useRef, useState } from 'react';
import { api, errorMessage, onUnauthenticated, type Contract, type DemoLogins, type Session } from './api.ts';
import { AdminEmail } from './screens/AdminEmail.tsx';
import { CandidateProfile } from './screens/CandidateProfile.tsx';
import { EmailSettings } from './screens/EmailSettings.tsx';
import { Pipeline } from './screens/Pipeline.tsx';
import { SignIn } from './screens/SignIn.tsx';
import { Alert, Link, Loading, NotFound, SETTINGS_PATH, navigate, useLocation } from './ui.tsx';

export const ROUTES = { adminEmail: '/admin/email', emailSettings: SETTINGS_PATH, pipeline: '/pipeline' } as const;
const CANDIDATE_ROUTE = /^\/candidates\/([0-9a-f-]{36})$/i;

type SessionState = { kind: 'loading' } | { kind: 'signed_out'; notice: string | null } | { kind: 'signed_in'; session: Session } | { kind: 'error'; message: string };

export function App() {
  const [state, setState] = useState<SessionState>({ kind: 'loading' });
  // Kept for the sign-in page after a sign-out: the demo's logins do not change while it runs.
  const demo = useRef<DemoLogins | null>(null);

  useEffect(() => {
    api.probe().then(
      (probe) => {
        demo.current = probe.demo;
        setState(probe.session ? { kind: 'signed_in', session: probe.session } : { kind: 'signed_out', notice: null });
      },
      (error) => setState({ kind: 'error', message: errorMessage(error) }),
    );
    return onUnauthenticated(() => setState({ kind: 'signed_out', notice: 'Your session has ended. Sign in again to continue.' }));
  }, []);

  const signOut = useCallback(async () => {
    try {
      await api.signOut();
    } finally {
      setState({ kind: 'signed_out', notice: 'You are signed out.' });
    }
  }, []);

  if (state.kind === 'loading') return <main id="main" className="page-center"><Loading label="Loading…" /></main>;
  if (state.kind === 'error') return <main id="main" className="page-center"><Alert tone="error">{state.message}</Alert></main>;
  if (state.kind === 'signed_out') return <SignIn notice={state.notice} demo={demo.current} onSignedIn={(session) => setState({ kind: 'signed_in', session })} />;
  return <Shell session={state.session} onSignOut={signOut} />;
}

function Shell({ session, onSignOut }: { session: Session; onSignOut: () => void }) {
  const { pathname } = useLocation();
  const [contract, setContract] = useState<Contract | null>(null);
  const { user } = session;
  const isAdmin = user.role === 'admin';

  useEffect(() => {
    api.contract(user.contractId).then(setContract, () => setContract(null));
  }, [user.contractId]);

  // The start page is the screen each role needs most.
  const home = isAdmin ? ROUTES.adminEmail : ROUTES.emailSettings;
  useEffect(() => {
    if (pathname === '/' || (pathname === ROUTES.adminEmail && !isAdmin)) navigate(home, { replace: true });
  }, [pathname, isAdmin, home]);

  let screen;
  if (pathname === ROUTES.adminEmail && isAdmin) screen = <AdminEmail user={user} contract={contract} />;
  else if (pathname === ROUTES.emailSettings) screen = <EmailSettings user={user} />;
  else if (pathname === ROUTES.pipeline) screen = <Pipeline user={user} />;
  else if (CANDIDATE_ROUTE.test(pathname)) screen = <CandidateProfile key={pathname} user={user} candidateId={CANDIDATE_ROUTE.exec(pathname)![1]!} contract={contract} />;
  else if (pathname === '/' || pathname === ROUTES.adminEmail) screen = null;
  else screen = <NotFound back={{ to: home, label: 'Go to the start page' }} />;

  return (
    <>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="app-header">
        <div className="app-header-inner">
          <div className="brand">
            <span className="brand-mark" aria-hidden="true">rs</span>
            <span className="company-name" data-testid="company-name">{contract?.name ?? 'recruiter-sync'}</span>
          </div>
          <nav aria-label="Main">
            <ul className="nav-list">
              {isAdmin && (
                <li>
                  <Link to={ROUTES.adminEmail} current={pathname === ROUTES.adminEmail}>
                    Company email &amp; calendar
                  </Link>
                </li>
              )}
              <li>
                <Link to={ROUTES.emailSettings} current={pathname === ROUTES.emailSettings}>
                  My email &amp; calendar
                </Link>
              </li>
            </ul>
          </nav>
          {/* The day-to-day work, apart from the settings navigation. */}
          <nav aria-label="Candidates">
            <ul className="nav-list">
              <li>
                <Link to={ROUTES.pipeline} current={pathname === ROUTES.pipeline || CANDIDATE_ROUTE.test(pathname)}>
                  Pipeline
                </Link>
              </li>
            </ul>
          </nav>
          <div className="user-menu">
            <span className="user-name">
              {user.name}
              <span className="user-role">{isAdmin ? 'Admin' : 'Recruiter'}</span>
            </span>
            <button type="button" className="button button-secondary button-small" onClick={onSignOut}>
              Sign out
            </button>
          </div>
        </div>
      </header>
      {contract?.status === 'suspended' && (
        <div className="banner-suspended" role="status">
          This company is suspended: its email and calendar data was deleted and nothing syncs until it is reactivated.
        </div>
      )}
      <main id="main" className="page" tabIndex={-1}>
        {screen}
      </main>
    </>
  );
}
