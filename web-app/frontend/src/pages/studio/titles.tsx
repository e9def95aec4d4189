// The catalog entries a creator may edit (/studio/titles): their own titles (every title, for admins), newest
// first, each with a way to edit it and to see its analytics.

import { useEffect, useState } from 'preact/hooks';
import { ErrorNotice, Loading } from '../../components/notice';
import { formatTime } from '../../format';
import { useTitle } from '../../hooks';
import { hasRole, useSession } from '../../session';
import { loadAll, Poster, StudioPage } from './common';
import type { Title } from './types';

const KIND_WORDS: Record<string, string> = { movie: 'Movie', series: 'Series', season: 'Season', episode: 'Episode' };

export function kindWords(kind: string): string {
  return KIND_WORDS[kind] ?? kind;
}

export function Titles() {
  useTitle('Titles');
  const { user } = useSession();
  const isAdmin = hasRole(user, 'admin');
  const [titles, setTitles] = useState<Title[]>();
  const [error, setError] = useState<unknown>();
  const [generation, setGeneration] = useState(0);

  useEffect(() => {
    if (!user) return;
    const controller = new AbortController();
    loadAll<Title>('/v1/titles', { available: 'any' }, controller.signal)
      .then((all) => {
        // Creators are also shown everyone's available titles: keep their own.
        setTitles(isAdmin ? all : all.filter((t) => t.owner_id === user.id));
        setError(undefined);
      })
      .catch((e) => {
        if (!controller.signal.aborted) setError(e);
      });
    return () => controller.abort();
  }, [user?.id, isAdmin, generation]);

  return (
    <StudioPage>
      <div class="row spread">
        <h1>Titles</h1>
        <a class="button" href="/studio/titles/new">
          New title
        </a>
      </div>
      <p class="muted">{isAdmin ? 'Every title in the catalog (you are an admin).' : 'The catalog entries you own.'}</p>
      {error !== undefined && (
        <div class="stack-small">
          <ErrorNotice error={error} title="Could not load the titles." />
          <button type="button" class="secondary" onClick={() => setGeneration((g) => g + 1)}>
            Try again
          </button>
        </div>
      )}
      {titles === undefined && error === undefined && <Loading label="Loading titles…" />}
      {titles?.length === 0 && (
        <div class="notice empty">
          <p>
            <strong>No titles yet.</strong> <a href="/studio/titles/new">Create a title</a> and give it a video from your{' '}
            <a href="/studio">library</a> to put it in the catalog.
          </p>
        </div>
      )}
      {titles && titles.length > 0 && (
        <ul class="title-list">
          {titles.map((t) => (
            <li class="card title-row" data-title={t.id}>
              <Poster url={t.artwork.poster_url} class="poster-art" />
              <div>
                <h2>
                  <a href={`/studio/titles/${t.id}`}>{t.title}</a>
                </h2>
                <p class="muted small">
                  {kindWords(t.kind)}
                  {t.release_year ? ` · ${t.release_year}` : ''}
                  {t.number != null ? ` · number ${t.number}` : ''} · updated {formatTime(t.updated_at)}
                </p>
                <p class="row small">
                  <a href={`/studio/titles/${t.id}`} aria-label={`Edit ${t.title}`}>
                    Edit
                  </a>
                  <a href={`/studio/analytics/${t.id}`} aria-label={`Analytics of ${t.title}`}>
                    Analytics
                  </a>
                  <a href={`/titles/${t.id}`} aria-label={`View in the catalog: ${t.title}`}>
                    View in the catalog
                  </a>
                </p>
              </div>
            </li>
          ))}
        </ul>
      )}
    </StudioPage>
  );
}
