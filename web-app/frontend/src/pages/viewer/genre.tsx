// Every title of one genre (GET /v1/titles?genre=), newest first, a page at a time.

import { useEffect, useState } from 'preact/hooks';
import { useRoute } from 'preact-iso';
import { get, withQuery } from '../../api';
import { ErrorNotice, Loading } from '../../components/notice';
import { useTitle } from '../../hooks';
import { rememberTitles, TitleCard } from './common';
import type { Page, Title } from './types';

export function Genre() {
  const { params } = useRoute();
  const genre = decodeURIComponent(params.genre ?? '');
  const heading = genre.charAt(0).toUpperCase() + genre.slice(1);
  useTitle(heading);
  const [titles, setTitles] = useState<Title[] | undefined>(undefined);
  const [next, setNext] = useState<string | null | undefined>();
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);

  const load = async (after?: string | null, signal?: AbortSignal) => {
    setBusy(true);
    try {
      const page = await get<Page<Title>>(withQuery('/v1/titles', { genre, kind: undefined, after, limit: 48 }), { signal });
      rememberTitles(page.items);
      setTitles((previous) => (after ? [...(previous ?? []), ...page.items] : page.items));
      setNext(page.next_cursor);
      setError(undefined);
    } catch (e) {
      if (!signal?.aborted) setError(e);
    } finally {
      if (!signal?.aborted) setBusy(false);
    }
  };
  useEffect(() => {
    const controller = new AbortController();
    setTitles(undefined);
    load(undefined, controller.signal);
    return () => controller.abort();
  }, [genre]);

  // Seasons and episodes are reached from their series.
  const shown = titles?.filter((title) => title.kind === 'movie' || title.kind === 'series');
  return (
    <section class="page stack">
      <h1>{heading}</h1>
      <ErrorNotice error={error} title="This genre could not be loaded." />
      {!titles && !error && <Loading />}
      {shown && shown.length === 0 && (
        <p>
          Nothing in this genre is available now. <a href="/">Back to the home page</a>.
        </p>
      )}
      {shown && shown.length > 0 && (
        <ul class="title-grid">
          {shown.map((title) => (
            <li key={title.id}>
              <TitleCard title={title} />
            </li>
          ))}
        </ul>
      )}
      {next && (
        <div>
          <button type="button" class="secondary" disabled={busy} onClick={() => load(next)}>
            {busy ? 'Loading…' : 'Show more'}
          </button>
        </div>
      )}
    </section>
  );
}
