// The frame around every page: a skip link, the header with the navigation the signed-in user's role allows,
// and the main landmark the page renders into.

import type { ComponentChildren } from 'preact';
import { useLocation } from 'preact-iso';
import { hasRole, useSession } from '../session';

function NavLink({ href, children }: { href: string; children: ComponentChildren }) {
  const { path } = useLocation();
  const current = href === '/' ? path === '/' : path === href || path.startsWith(href + '/');
  return (
    <a href={href} aria-current={current ? 'page' : undefined}>
      {children}
    </a>
  );
}

export function Layout({ children }: { children: ComponentChildren }) {
  const { user, signOut } = useSession();
  const { route } = useLocation();
  return (
    <>
      <a class="skip-link" href="#main">
        Skip to content
      </a>
      <header class="site-header">
        <a class="brand" href="/">
          Marquee
        </a>
        <nav aria-label="Main">
          <NavLink href="/">Home</NavLink>
          <NavLink href="/search">Search</NavLink>
          <NavLink href="/plans">Plans</NavLink>
          {hasRole(user, 'creator') && <NavLink href="/studio">Studio</NavLink>}
          {hasRole(user, 'admin') && <NavLink href="/admin">Admin</NavLink>}
        </nav>
        <div class="account">
          {user ? (
            <>
              <NavLink href="/account">{user.email}</NavLink>
              <button
                type="button"
                class="link-button"
                onClick={async () => {
                  await signOut();
                  route('/');
                }}
              >
                Sign out
              </button>
            </>
          ) : (
            <>
              <NavLink href="/signin">Sign in</NavLink>
              <a class="button" href="/signup">
                Sign up
              </a>
            </>
          )}
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        {children}
      </main>
    </>
  );
}

/** Shows `children` to users with `role`, and a way to sign in (or a refusal) to everyone else. */
export function RequireRole({ role, children }: { role: 'viewer' | 'creator' | 'admin'; children: ComponentChildren }) {
  const { user, loading } = useSession();
  const { url } = useLocation();
  if (loading) return null;
  if (!user) {
    return (
      <section class="page narrow">
        <h1>Sign in to continue</h1>
        <p>
          This page needs an account. <a href={`/signin?next=${encodeURIComponent(url)}`}>Sign in</a> or{' '}
          <a href={`/signup?next=${encodeURIComponent(url)}`}>create one</a>.
        </p>
      </section>
    );
  }
  if (!hasRole(user, role)) {
    return (
      <section class="page narrow">
        <h1>Not available to your account</h1>
        <p>This page is for {role}s; you are signed in as a {user.role}. An admin can change your role.</p>
      </section>
    );
  }
  return <>{children}</>;
}
