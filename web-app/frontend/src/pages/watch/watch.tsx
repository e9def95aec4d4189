// The watch page, /watch/:id: plays a title (its feature, or an episode's video). `?asset=ASSET` plays that
// asset instead: one of the title's (a trailer) for anyone allowed to watch it, or any asset for its owner or
// an admin (the API decides who may play what; beacons name the title only when it lists the asset).
// `?engine=dash` plays with dash.js (and `?engine=hls` with hls.js) where the browser can.
//
// It asks POST /v1/assets/{id}/playback for signed URLs, offers to resume where the viewer stopped (by the API's
// continue-watching record, or this browser's), plays,
// asks again at `refresh_at` and swaps the fresh token in, and says in words why not when it cannot play:
// not signed in, no plan or rental, not available, not ready, or a playback error (with Retry).

import { useEffect, useRef, useState } from 'preact/hooks';
import { useLocation, useRoute } from 'preact-iso';
import { ApiError, get, post } from '../../api';
import { ErrorNotice, Loading } from '../../components/notice';
import { formatDuration } from '../../format';
import { useResource, useTitle } from '../../hooks';
import type { EnginePreference, Sources } from '../../player/engine';
import { Player } from '../../player/player';
import { loadPosition, loadServerPosition, resumePosition, type SavedPosition } from '../../player/resume';
import { hasRole, useSession, type User } from '../../session';
import './watch.css';

interface Artwork {
  poster_url?: string | null;
  backdrop_url?: string | null;
}

interface TitleAsset {
  asset_id: string;
  role: 'feature' | 'trailer' | 'episode';
}

interface TitleDetail {
  id: string;
  kind: 'movie' | 'series' | 'season' | 'episode';
  title: string;
  synopsis: string;
  release_year?: number | null;
  runtime_minutes?: number | null;
  maturity_rating?: string | null;
  number?: number | null;
  artwork: Artwork;
  assets: TitleAsset[];
}

interface PlaybackUrls {
  hls_url: string;
  dash_url: string;
  expires_at: number;
  refresh_at: number;
}

/** Check again for a video that is not ready this often. */
const NOT_READY_POLL_MS = 15_000;
/** After a refresh failed for want of an answer, try again this soon (until the URLs expire). */
const REFRESH_RETRY_MS = 10_000;

/** The asset to play and whether the title lists it. */
function chooseAsset(title: TitleDetail, asked: string | undefined): { assetId: string; inTitle: boolean } | null {
  if (asked) return { assetId: asked, inTitle: title.assets.some((a) => a.asset_id === asked) };
  const main = title.assets.find((a) => a.role === 'feature') ?? title.assets.find((a) => a.role === 'episode');
  return main ? { assetId: main.asset_id, inTitle: true } : null;
}

export default function WatchPage() {
  const { params, query } = useRoute();
  const { user, loading: sessionLoading } = useSession();
  const title = useResource<TitleDetail>(`/v1/titles/${encodeURIComponent(params.id)}`);
  useTitle(title.data ? title.data.title : 'Watch');

  if (title.error && !title.data) {
    const missing = title.error instanceof ApiError && title.error.status === 404;
    return (
      <section class="page watch">
        <h1>{missing ? 'Title not found' : 'Could not load this title'}</h1>
        {missing ? (
          <p>
            There is no such title, or it is not available to you. <a href="/">Browse the catalog</a> or <a href="/search">search</a>.
          </p>
        ) : (
          <div class="stack">
            <ErrorNotice error={title.error} />
            <div>
              <button type="button" onClick={title.reload}>
                Retry
              </button>
            </div>
          </div>
        )}
      </section>
    );
  }
  if (!title.data || sessionLoading) return <Loading label="Loading the title…" />;

  const detail = title.data;
  const pick = chooseAsset(detail, query.asset);
  const engine: EnginePreference = query.engine === 'dash' || query.engine === 'hls' ? query.engine : 'auto';
  return (
    <section class="page watch">
      {pick ? (
        <Playback key={`${pick.assetId}:${user?.id ?? ''}`} title={detail} assetId={pick.assetId} inTitle={pick.inTitle} engine={engine} user={user} />
      ) : (
        <div class="watch-stage watch-message">
          <div>
            <h2>Nothing to play yet</h2>
            <p>
              {detail.kind === 'series' || detail.kind === 'season'
                ? 'This is a series: choose an episode on its page.'
                : 'This title has no video yet.'}{' '}
              <a href={`/titles/${detail.id}`}>Go to {detail.title}</a>
            </p>
          </div>
        </div>
      )}
      <TitleFacts title={detail} />
    </section>
  );
}

function TitleFacts({ title }: { title: TitleDetail }) {
  const facts = [
    title.release_year,
    title.runtime_minutes ? `${title.runtime_minutes} min` : null,
    title.maturity_rating,
  ].filter(Boolean);
  return (
    <div class="watch-facts">
      <h1>{title.title}</h1>
      {facts.length > 0 && <p class="muted">{facts.join(' · ')}</p>}
      {title.synopsis && <p>{title.synopsis}</p>}
      <p>
        <a href={`/titles/${title.id}`}>More about {title.title}</a>
      </p>
    </div>
  );
}

type Stage =
  | { kind: 'asking' }
  | { kind: 'refused'; error: unknown; whilePlaying: boolean }
  | { kind: 'resume'; sources: Sources; saved: SavedPosition }
  | { kind: 'playing'; sources: Sources; startAt: number; generation: number };

interface PlaybackProps {
  title: TitleDetail;
  assetId: string;
  inTitle: boolean;
  engine: EnginePreference;
  user: User | null;
}

function Playback({ title, assetId, inTitle, engine, user }: PlaybackProps) {
  const { url } = useLocation();
  const [stage, setStage] = useState<Stage>({ kind: 'asking' });
  const [poster, setPoster] = useState<string | null>(inTitle ? (title.artwork.poster_url ?? null) : null);
  const refreshTimer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  const alive = useRef(true);
  const viewer = user?.id ?? 'anonymous';

  const ask = () => post<PlaybackUrls>(`/v1/assets/${encodeURIComponent(assetId)}/playback`);
  const sourcesOf = (urls: PlaybackUrls): Sources => ({ hls: urls.hls_url, dash: urls.dash_url });

  /** Asks for fresh URLs at `refresh_at`, and again until they expire if nobody answers. */
  const scheduleRefresh = (urls: PlaybackUrls) => {
    clearTimeout(refreshTimer.current);
    const due = Math.max(1_000, urls.refresh_at * 1000 - Date.now());
    refreshTimer.current = setTimeout(async function refresh() {
      try {
        const fresh = await ask();
        if (!alive.current) return;
        // The prompt to resume keeps fresh URLs too, however long it waits.
        setStage((s) => (s.kind === 'playing' || s.kind === 'resume' ? { ...s, sources: sourcesOf(fresh) } : s));
        scheduleRefresh(fresh);
      } catch (error) {
        if (!alive.current) return;
        const answered = error instanceof ApiError && error.status >= 400 && error.status < 500;
        if (answered) {
          setStage({ kind: 'refused', error, whilePlaying: true });
        } else if (Date.now() + REFRESH_RETRY_MS < urls.expires_at * 1000) {
          refreshTimer.current = setTimeout(refresh, REFRESH_RETRY_MS);
        }
        // Else the URLs run out: the player reports the refused request, with Retry.
      }
    }, due);
  };

  const start = async (startAt?: number) => {
    clearTimeout(refreshTimer.current);
    setStage({ kind: 'asking' });
    try {
      // Where a signed-in viewer stopped, by the API's record (asked alongside, so it adds no wait).
      const [urls, server] = await Promise.all([ask(), startAt === undefined && user ? loadServerPosition(assetId) : null]);
      if (!alive.current) return;
      const sources = sourcesOf(urls);
      scheduleRefresh(urls);
      const saved = startAt === undefined ? resumePosition(server, loadPosition(viewer, assetId)) : null;
      if (saved) setStage({ kind: 'resume', sources, saved });
      else setStage((s) => ({ kind: 'playing', sources, startAt: startAt ?? 0, generation: generationOf(s) + 1 }));
    } catch (error) {
      if (alive.current) setStage({ kind: 'refused', error, whilePlaying: false });
    }
  };

  useEffect(() => {
    alive.current = true;
    start();
    // An asset that is not the title's: its owner (or an admin) may see its own poster.
    if (!inTitle && hasRole(user, 'creator')) {
      get<{ poster?: { url?: string | null } | null }>(`/v1/assets/${encodeURIComponent(assetId)}`)
        .then((asset) => alive.current && setPoster(asset.poster?.url ?? null))
        .catch(() => undefined);
    }
    return () => {
      alive.current = false;
      clearTimeout(refreshTimer.current);
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  // A video that is not ready yet: look again now and then.
  const notReady = stage.kind === 'refused' && stage.error instanceof ApiError && stage.error.code === 'asset_not_ready';
  useEffect(() => {
    if (!notReady) return;
    const timer = setInterval(() => {
      if (document.visibilityState === 'visible') start();
    }, NOT_READY_POLL_MS);
    return () => clearInterval(timer);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [notReady]);

  switch (stage.kind) {
    case 'asking':
      return (
        <div class="watch-stage" style={poster ? { backgroundImage: `url("${poster}")` } : undefined}>
          <div class="player-spinner" role="status">
            <span class="visually-hidden">Getting the video…</span>
          </div>
        </div>
      );
    case 'resume':
      return (
        <div class="watch-stage watch-message watch-poster" style={poster ? { backgroundImage: `url("${poster}")` } : undefined}>
          <div class="watch-resume">
            <p>
              You stopped at {formatDuration(stage.saved.position)}
              {stage.saved.duration ? ` of ${formatDuration(stage.saved.duration)}` : ''}.
            </p>
            <div class="row">
              <button type="button" onClick={() => setStage({ kind: 'playing', sources: stage.sources, startAt: stage.saved.position, generation: 1 })}>
                Resume from {formatDuration(stage.saved.position)}
              </button>
              <button type="button" class="secondary" onClick={() => setStage({ kind: 'playing', sources: stage.sources, startAt: 0, generation: 1 })}>
                Start over
              </button>
            </div>
          </div>
        </div>
      );
    case 'playing':
      return (
        <Player
          key={stage.generation}
          sources={stage.sources}
          prefer={engine}
          poster={poster}
          title={title.title}
          startAt={stage.startAt}
          assetId={assetId}
          titleId={inTitle ? title.id : undefined}
          viewer={viewer}
          onRetry={(position) => start(position)}
        />
      );
    case 'refused':
      return (
        <div class="watch-stage watch-message">
          <Refusal error={stage.error} title={title} next={url} whilePlaying={stage.whilePlaying} retry={() => start()} />
        </div>
      );
  }
}

function generationOf(stage: Stage): number {
  return stage.kind === 'playing' ? stage.generation : 0;
}

/** Why the video does not play, in words, with what the viewer can do about it. */
function Refusal({ error, title, next, whilePlaying, retry }: { error: unknown; title: TitleDetail; next: string; whilePlaying: boolean; retry(): void }) {
  const encodedNext = encodeURIComponent(next);
  const titlePage = `/titles/${title.id}`;
  const stopped = whilePlaying ? 'Playback stopped. ' : '';
  const message = (heading: string, body: preact.ComponentChildren) => (
    <div role="alert" class="watch-refusal">
      <h2>{heading}</h2>
      {body}
    </div>
  );
  if (error instanceof ApiError) {
    const sentence = error.message.charAt(0).toUpperCase() + error.message.slice(1) + '.';
    if (error.status === 401) {
      return message(
        'Sign in to watch',
        <p>
          {stopped}
          {title.title} is for signed-in viewers. <a href={`/signin?next=${encodedNext}`}>Sign in</a> or{' '}
          <a href={`/signup?next=${encodedNext}`}>create an account</a>.
        </p>,
      );
    }
    switch (error.code) {
      case 'not_subscribed':
        return message(
          'This title needs a plan or a rental',
          <>
            <p>
              {stopped}
              No subscription, rental or purchase of yours covers {title.title}.
            </p>
            <p class="row">
              <a class="button" href={`/plans?next=${encodedNext}`}>
                See plans
              </a>
              <a class="button secondary" href={titlePage}>
                Rent or buy {title.title}
              </a>
            </p>
          </>,
        );
      case 'rental_expired':
        return message(
          'Your rental has ended',
          <>
            <p>{stopped}Your rental of {title.title} has expired.</p>
            <p class="row">
              <a class="button" href={titlePage}>
                Rent it again
              </a>
              <a class="button secondary" href={`/plans?next=${encodedNext}`}>
                See plans
              </a>
            </p>
          </>,
        );
      case 'not_yet_available':
      case 'not_available_in_region':
      case 'no_longer_available':
        return message(
          'Not available',
          <p>
            {stopped}
            {sentence} <a href={titlePage}>See {title.title}</a>
          </p>,
        );
      case 'asset_not_ready':
        return message(
          'This video is not ready to play',
          <>
            <p>
              {sentence} This page checks again every {NOT_READY_POLL_MS / 1000} seconds.
            </p>
            <p>
              <button type="button" onClick={retry}>
                Check now
              </button>
            </p>
          </>,
        );
    }
    if (error.status === 403) {
      return message('You cannot watch this video', <p>{stopped}{sentence}</p>);
    }
    if (error.status === 404) {
      return message(
        'This video does not exist',
        <p>
          It may have been deleted. <a href={titlePage}>See {title.title}</a>
        </p>,
      );
    }
  }
  return (
    <div class="watch-refusal">
      <h2>The video could not be started</h2>
      <ErrorNotice error={error} />
      <p>
        <button type="button" onClick={retry}>
          Retry
        </button>
      </p>
    </div>
  );
}
