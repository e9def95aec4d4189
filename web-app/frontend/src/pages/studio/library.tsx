// The creator's library (/studio): their assets, newest first, with status, duration, poster and creation
// time; queued and transcoding ones show live progress (each polled every 2 s while it is in flight), failed
// ones say why with a Retry, and any can be deleted after a confirmation.

import { useEffect, useMemo, useState } from 'preact/hooks';
import { del, get, idempotencyKey, post } from '../../api';
import { ErrorNotice, Loading } from '../../components/notice';
import { formatDuration, formatTime } from '../../format';
import { useTitle, useUnmounted } from '../../hooks';
import { assetName, ConfirmButton, inFlight, loadAll, Poster, StatusBadge, StudioPage, TranscodeProgress } from './common';
import type { Asset } from './types';

/** How often an in-flight asset is read again. */
export const POLL_MS = 2000;
const PAGE = 50;

type Filter = 'all' | 'active' | 'ready' | 'errored';
const FILTERS: [Filter, string][] = [
  ['all', 'All'],
  ['active', 'In progress'],
  ['ready', 'Ready'],
  ['errored', 'Failed'],
];

/**
 * Keeps `assets` fresh: every `POLL_MS` while any is queued or processing, reads those again (and stops when
 * none is). Returns the list with the latest of each.
 */
export function useLiveAssets(assets: Asset[] | undefined, setAssets: (update: (old: Asset[] | undefined) => Asset[] | undefined) => void) {
  const unmounted = useUnmounted();
  const flying = (assets ?? []).filter(inFlight).map((a) => a.id).join(',');
  useEffect(() => {
    if (!flying) return;
    const timer = setInterval(async () => {
      if (document.visibilityState !== 'visible') return;
      const fresh = await Promise.all(
        flying.split(',').map((id) => get<Asset>(`/v1/assets/${id}`).catch(() => null)),
      );
      if (unmounted.current) return;
      setAssets((old) =>
        old?.map((asset) => fresh.find((f) => f?.id === asset.id) ?? asset),
      );
    }, POLL_MS);
    return () => clearInterval(timer);
  }, [flying]);
}

export function AssetActions({ asset, onChange, onDeleted }: { asset: Asset; onChange: (a: Asset) => void; onDeleted: () => void }) {
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const name = assetName(asset);
  return (
    <div class="stack-small">
      <ErrorNotice error={error} />
      <div class="row">
        {asset.status === 'errored' && (
          <button
            type="button"
            disabled={busy}
            aria-label={`Retry ${name}`}
            onClick={async () => {
              setBusy(true);
              setError(undefined);
              try {
                onChange(await post<Asset>(`/v1/assets/${asset.id}/transcode`, {}, { headers: { 'idempotency-key': idempotencyKey() } }));
              } catch (e) {
                setError(e);
              } finally {
                setBusy(false);
              }
            }}
          >
            Retry
          </button>
        )}
        {inFlight(asset) && (
          <button
            type="button"
            class="secondary"
            disabled={busy}
            onClick={async () => {
              setBusy(true);
              setError(undefined);
              try {
                onChange(await post<Asset>(`/v1/assets/${asset.id}/cancel`));
              } catch (e) {
                setError(e);
              } finally {
                setBusy(false);
              }
            }}
          >
            Stop transcoding
          </button>
        )}
        <ConfirmButton
          label="Delete"
          question={`Delete ${name} and all its files?`}
          confirmLabel="Delete for good"
          onConfirm={async () => {
            setError(undefined);
            try {
              await del(`/v1/assets/${asset.id}`);
              onDeleted();
            } catch (e) {
              setError(e);
            }
          }}
        />
      </div>
    </div>
  );
}

export function AssetError({ asset }: { asset: Asset }) {
  if (asset.status !== 'errored') return null;
  const reason = asset.error;
  const words =
    reason?.code === 'canceled'
      ? 'The transcode was stopped.'
      : reason
        ? `The transcode failed: ${reason.message}`
        : 'The transcode failed.';
  return (
    <p class="asset-error">
      {words} {reason && <span class="muted small">({reason.code})</span>}
    </p>
  );
}

function AssetRow({ asset, onChange, onDeleted }: { asset: Asset; onChange: (a: Asset) => void; onDeleted: () => void }) {
  const name = assetName(asset);
  const duration = asset.duration_seconds ?? asset.source?.duration_seconds;
  return (
    <li class="asset-row card" data-asset={asset.id} data-status={asset.status}>
      <a href={`/studio/assets/${asset.id}`} class="asset-thumb" tabIndex={-1} aria-hidden="true">
        <Poster url={asset.poster?.url} />
      </a>
      <div class="asset-main">
        <h2 class="asset-name">
          <a href={`/studio/assets/${asset.id}`}>{name}</a>
        </h2>
        <p class="row small">
          <StatusBadge status={asset.status} />
          {duration != null && <span>{formatDuration(duration)}</span>}
          <span class="muted">Added {formatTime(asset.created_at)}</span>
        </p>
        {inFlight(asset) && <TranscodeProgress asset={asset} label={`Transcoding ${name}`} />}
        {asset.status === 'waiting_upload' && (
          <p class="muted small">
            Its upload has not finished: <a href="/studio/upload">resume it on the Upload page</a> from the browser that
            started it, or delete it.
          </p>
        )}
        <AssetError asset={asset} />
      </div>
      <div class="asset-actions">
        <AssetActions asset={asset} onChange={onChange} onDeleted={onDeleted} />
      </div>
    </li>
  );
}

export function Library() {
  useTitle('Library');
  const [assets, setAssets] = useState<Asset[]>();
  const [error, setError] = useState<unknown>();
  const [filter, setFilter] = useState<Filter>('all');
  const [shown, setShown] = useState(PAGE);
  const [generation, setGeneration] = useState(0);

  useEffect(() => {
    const controller = new AbortController();
    loadAll<Asset>('/v1/assets', {}, controller.signal)
      .then((items) => {
        setAssets(items.sort((a, b) => b.created_at - a.created_at));
        setError(undefined);
      })
      .catch((e) => {
        if (!controller.signal.aborted) setError(e);
      });
    return () => controller.abort();
  }, [generation]);

  useLiveAssets(assets, setAssets);

  // Coming back to the tab reads the list again: uploads finished elsewhere show up.
  useEffect(() => {
    const again = () => {
      if (document.visibilityState === 'visible') setGeneration((g) => g + 1);
    };
    document.addEventListener('visibilitychange', again);
    return () => document.removeEventListener('visibilitychange', again);
  }, []);

  const filtered = useMemo(
    () =>
      (assets ?? []).filter((a) =>
        filter === 'all'
          ? true
          : filter === 'active'
            ? inFlight(a) || a.status === 'waiting_upload'
            : a.status === filter,
      ),
    [assets, filter],
  );
  const flying = (assets ?? []).filter(inFlight).length;

  return (
    <StudioPage>
      <div class="row spread">
        <h1>Library</h1>
        <a class="button" href="/studio/upload">
          Upload videos
        </a>
      </div>
      {error !== undefined && (
        <div class="stack-small">
          <ErrorNotice error={error} title="Could not load your library." />
          <button type="button" class="secondary" onClick={() => setGeneration((g) => g + 1)}>
            Try again
          </button>
        </div>
      )}
      {assets === undefined && error === undefined && <Loading label="Loading your videos…" />}
      {assets !== undefined && assets.length === 0 && (
        <div class="notice empty">
          <p>
            <strong>No videos yet.</strong> <a href="/studio/upload">Upload a video</a>: it is transcoded for
            streaming, then you can give it a title in the catalog.
          </p>
        </div>
      )}
      {assets !== undefined && assets.length > 0 && (
        <>
          <div class="row spread">
            <fieldset class="filters">
              <legend class="visually-hidden">Show</legend>
              {FILTERS.map(([value, label]) => (
                <label class="chip">
                  <input type="radio" name="filter" value={value} checked={filter === value} onChange={() => setFilter(value)} />
                  {label}
                </label>
              ))}
            </fieldset>
            <p class="muted small" aria-live="polite">
              {assets.length} video{assets.length === 1 ? '' : 's'}
              {flying > 0 ? ` · ${flying} transcoding` : ''}
            </p>
          </div>
          {filtered.length === 0 && <p class="muted">No videos match this filter.</p>}
          <ul class="asset-list">
            {filtered.slice(0, shown).map((asset) => (
              <AssetRow
                key={asset.id}
                asset={asset}
                onChange={(fresh) => setAssets((old) => old?.map((a) => (a.id === fresh.id ? fresh : a)))}
                onDeleted={() => setAssets((old) => old?.filter((a) => a.id !== asset.id))}
              />
            ))}
          </ul>
          {filtered.length > shown && (
            <button type="button" class="secondary" onClick={() => setShown((n) => n + PAGE)}>
              Show {Math.min(PAGE, filtered.length - shown)} more
            </button>
          )}
        </>
      )}
    </StudioPage>
  );
}
