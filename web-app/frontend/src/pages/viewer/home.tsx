// The home page: for a signed-in viewer, "Continue watching" first (GET /v1/me/continue-watching: how far they
// got, back to where they stopped) and "For you" (GET /v1/me/recommendations); the rows of GET /v1/home in its
// order; a call to sign up for visitors; an empty catalog said as such.

import { useMemo } from 'preact/hooks';
import { ErrorNotice, Loading } from '../../components/notice';
import { formatDuration } from '../../format';
import { useResource, useTitle } from '../../hooks';
import { hasRole, useSession } from '../../session';
import { onRowKey, Poster, rememberTitles, TitleRow, useTitles } from './common';
import type { ContinueWatchingItem, HomeRow, Recommendations } from './types';

/** How far the viewer got, in words: "0:42 of 1:45:10", or "Stopped at 0:42" when the length is unknown. */
function progressText(item: ContinueWatchingItem): string {
  const at = formatDuration(item.position_seconds);
  return item.duration_seconds ? `${at} of ${formatDuration(item.duration_seconds)}` : `Stopped at ${at}`;
}

function ContinueWatching() {
  const list = useResource<{ items: ContinueWatchingItem[] }>('/v1/me/continue-watching?limit=20');
  // One card a title (its most recent asset: the list is newest first); an asset played as no title has no card.
  const items = useMemo(() => {
    const seen = new Set<string>();
    return (list.data?.items ?? []).filter((item) => item.title_id && !seen.has(item.title_id) && seen.add(item.title_id));
  }, [list.data]);
  const ids = useMemo(() => (list.data ? items.map((item) => item.title_id!) : undefined), [items]);
  const titles = useTitles(ids);
  // Nothing started (or the row could not load): no row; the rest of the page is what matters then.
  if (!titles || titles.length === 0) return null;
  const byId = new Map(titles.map((title) => [title.id, title]));
  const shown = items.filter((item) => byId.has(item.title_id!));
  return (
    <section class="title-row" aria-labelledby="row-continue-watching">
      <div class="row title-row-head">
        <h2 id="row-continue-watching">Continue watching</h2>
      </div>
      <ul class="title-row-list" onKeyDown={onRowKey}>
        {shown.map((item) => {
          const title = byId.get(item.title_id!)!;
          const share = item.duration_seconds ? Math.min(1, item.position_seconds / item.duration_seconds) : 0;
          const href = `/watch/${encodeURIComponent(title.id)}?asset=${encodeURIComponent(item.asset_id)}`;
          return (
            <li key={title.id}>
              <a class="title-card continue-card" href={href}>
                <span class="continue-poster">
                  <Poster title={title} />
                  {share > 0 && (
                    <span class="continue-bar" aria-hidden="true">
                      <span style={{ width: `${Math.round(share * 100)}%` }} />
                    </span>
                  )}
                </span>
                <span class="title-card-name">{title.title}</span>
                <span class="title-card-facts">{progressText(item)}</span>
              </a>
            </li>
          );
        })}
      </ul>
    </section>
  );
}

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
      {user && !empty && <ContinueWatching />}
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
