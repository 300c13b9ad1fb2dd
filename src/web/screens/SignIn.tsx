import { useState, type FormEvent } from 'react';
import { api, errorMessage, type DemoLogins, type Session } from '../api.ts';
import { Alert, useTitle } from '../ui.tsx';

export function SignIn({ onSignedIn, notice, demo }: { onSignedIn: (session: Session) => void; notice?: string | null; demo?: DemoLogins | null }) {
  useTitle('Sign in');
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      onSignedIn(await api.signIn(email, password));
    } catch (e) {
      setError(errorMessage(e));
      setBusy(false);
    }
  }

  return (
    <main className="signin" id="main">
      <div className="signin-card">
        <p className="brand brand-large" aria-hidden="true">
          <span className="brand-mark">rs</span> recruiter-sync
        </p>
        <h1>Sign in</h1>
        <p className="muted">Your candidate conversations, from your company mailbox.</p>
        {notice && <Alert tone="info">{notice}</Alert>}
        {error && <Alert tone="error">{error}</Alert>}
        <form onSubmit={submit} noValidate={false}>
          <div className="field">
            <label htmlFor="signin-email">Work email</label>
            <input id="signin-email" name="email" type="email" autoComplete="username" required value={email} onChange={(e) => setEmail(e.target.value)} autoFocus />
          </div>
          <div className="field">
            <label htmlFor="signin-password">Password</label>
            <input id="signin-password" name="password" type="password" autoComplete="current-password" required value={password} onChange={(e) => setPassword(e.target.value)} />
          </div>
          <button type="submit" className="button button-primary button-block" disabled={busy}>
            {busy ? 'Signing in…' : 'Sign in'}
          </button>
        </form>
        {demo && demo.logins.length > 0 && (
          <section className="demo-logins" aria-labelledby="demo-logins-title">
            <h2 id="demo-logins-title">Demo sign-ins</h2>
            <p className="muted small">
              This is the local demo. Every account below uses the password <code>{demo.password}</code>; choose one to fill in the form.
            </p>
            <ul>
              {demo.logins.map((login) => (
                <li key={login.email}>
                  <button
                    type="button"
                    className="button-quiet demo-login"
                    onClick={() => {
                      setEmail(login.email);
                      setPassword(demo.password);
                    }}
                  >
                    <span className="demo-login-name">{login.name}</span> <span className="muted">{login.role === 'admin' ? 'Admin' : 'Recruiter'}</span>{' '}
                    <span className="demo-login-email">{login.email}</span>
                  </button>
                </li>
              ))}
            </ul>
          </section>
        )}
      </div>
    </main>
  );
}
