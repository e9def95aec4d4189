// Signing in and signing up.

import { useState } from 'preact/hooks';
import { useLocation } from 'preact-iso';
import { ErrorNotice } from '../components/notice';
import { Field } from '../components/field';
import { useTitle } from '../hooks';
import { useSession } from '../session';

/** Where to go after signing in: the `next` query parameter when it is a path on this site, else home. */
function nextPath(query: Record<string, string>): string {
  const next = query.next;
  return next && next.startsWith('/') && !next.startsWith('//') ? next : '/';
}

function CredentialsForm({ mode }: { mode: 'signin' | 'signup' }) {
  const { signIn, signUp } = useSession();
  const { query, route } = useLocation();
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const signingUp = mode === 'signup';
  useTitle(signingUp ? 'Sign up' : 'Sign in');

  const submit = async (event: Event) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget as HTMLFormElement);
    setBusy(true);
    setError(undefined);
    try {
      const email = String(form.get('email'));
      const password = String(form.get('password'));
      await (signingUp ? signUp(email, password) : signIn(email, password));
      route(nextPath(query));
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  const other = signingUp ? '/signin' : '/signup';
  const otherQuery = query.next ? `?next=${encodeURIComponent(query.next)}` : '';
  return (
    <section class="page narrow">
      <h1>{signingUp ? 'Create your account' : 'Sign in'}</h1>
      <form onSubmit={submit} class="stack" aria-busy={busy}>
        <ErrorNotice error={error} title={signingUp ? 'Could not create the account.' : 'Could not sign in.'} />
        <Field id="email" label="Email" type="email" name="email" autoComplete="email" required />
        <Field
          id="password"
          label="Password"
          type="password"
          name="password"
          autoComplete={signingUp ? 'new-password' : 'current-password'}
          minLength={signingUp ? 8 : undefined}
          hint={signingUp ? 'At least 8 characters.' : undefined}
          required
        />
        <button type="submit" disabled={busy}>
          {signingUp ? 'Create account' : 'Sign in'}
        </button>
      </form>
      <p>
        {signingUp ? 'Have an account? ' : 'New here? '}
        <a href={other + otherQuery}>{signingUp ? 'Sign in' : 'Create an account'}</a>
      </p>
    </section>
  );
}

export const SignIn = () => <CredentialsForm mode="signin" />;
export const SignUp = () => <CredentialsForm mode="signup" />;

export function NotFound() {
  useTitle('Not found');
  return (
    <section class="page narrow">
      <h1>Page not found</h1>
      <p>
        Nothing is at this address. <a href="/">Go to the home page</a>.
      </p>
    </section>
  );
}
