// The home page: the rows of GET /v1/home in its order, and "For you" (GET /v1/me/recommendations) for a
// signed-in viewer; a call to sign up for visitors; an empty catalog said as such.

import { useMemo } from 'preact/hooks';
import { ErrorNotice, Loading } from '../../components/notice';
import { useResource, useTitle } from '../../hooks';
import { hasRole, useSession } from '../../session';
import { rememberTitles, TitleRow, useTitles } from './common';
import type { HomeRow, Recommendations } from './types';

function ForYou() {
  const recommendations = useResource<Recommendations>('/v1/me/recommendations?limit=20');
  const ids = useMemo(() => recommendations.data?.items.map((item) => item.title_id), [recommendations.data]);
  const titles = useTitles(ids);
  // A row that cannot load is left out: the rest of the page is still worth showing.
  if (!titles || titles.length === 0) return null;
  return <TitleRow id="for-you" label="For you" titles={titles} />;
}

export function Home() {
  useTitle('');
  const { user, loading: sessionLoading } = useSession();
  const home = useResource<{ rows: HomeRow[] }>('/v1/home');
  const rows = home.data?.rows ?? [];
  useMemo(() => rows.forEach((row) => rememberTitles(row.items)), [home.data]);
  const empty = home.data !== undefined && rows.length === 0;

  return (
    <div class="page stack home">
      <h1 class={user ? 'visually-hidden' : undefined}>{user ? 'Home' : 'Films and series to watch tonight'}</h1>
      {!user && !sessionLoading && (
        <div class="hero card">
          <p>Browse the catalog freely. Create an account to subscribe, rent or buy, and pick up where you left off.</p>
          <div class="row">
            <a class="button" href="/signup">
              Sign up
            </a>
            <a class="button secondary" href="/plans">
              See the plans
            </a>
          </div>
        </div>
      )}
      <ErrorNotice error={home.error} title="The home page could not be loaded." />
      {home.loading && !home.data && <Loading label="Loading the catalog…" />}
      {user && !empty && <ForYou />}
      {rows.map((row) => (
        <TitleRow
          key={row.key}
          id={row.key}
          label={row.key.startsWith('genre:') ? capitalize(row.label) : row.label}
          titles={row.items}
          more={row.key.startsWith('genre:') ? `/genres/${encodeURIComponent(row.key.slice('genre:'.length))}` : undefined}
        />
      ))}
      {empty && (
        <div class="notice" role="status">
          <p>Nothing to watch yet: the catalog is empty.</p>
          {hasRole(user, 'creator') ? (
            <p>
              <a href="/studio">Go to the studio</a> to upload a film and publish it.
            </p>
          ) : (
            <p>Come back soon: titles appear here as soon as they are published.</p>
          )}
        </div>
      )}
    </div>
  );
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
