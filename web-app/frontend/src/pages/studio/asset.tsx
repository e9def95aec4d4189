// One asset (/studio/assets/:id): its poster, status and live progress, what the probe found in the source, the
// published renditions, the titles that play it, and the ways on: preview, create a title, retry, delete.

import { useEffect, useState } from 'preact/hooks';
import { useLocation, useRoute } from 'preact-iso';
import { ApiError, get } from '../../api';
import { ErrorNotice, Loading } from '../../components/notice';
import { formatDuration, formatTime } from '../../format';
import { useTitle } from '../../hooks';
import { hasRole, useSession } from '../../session';
import { assetName, inFlight, loadAll, Poster, StatusBadge, StudioPage, TranscodeProgress } from './common';
import { AssetActions, AssetError, useLiveAssets } from './library';
import type { Asset, Title, TitleDetail } from './types';

function bitrate(bps: number): string {
  return bps >= 1_000_000 ? `${(bps / 1_000_000).toFixed(1)} Mb/s` : `${Math.round(bps / 1000)} kb/s`;
}

function SourceFacts({ asset }: { asset: Asset }) {
  const source = asset.source;
  if (!source) return <p class="muted">The source has not been probed yet: its facts appear once the transcode starts.</p>;
  const video = source.video;
  const audio = source.audio;
  const rows: [string, string][] = [];
  if (typeof source.container === 'string') rows.push(['Container', source.container]);
  if (source.duration_seconds != null) rows.push(['Duration', formatDuration(source.duration_seconds)]);
  if (video) {
    const w = video.display_width ?? video.width;
    const h = video.display_height ?? video.height;
    if (w && h) rows.push(['Picture', `${w} × ${h}${video.rotation ? ` (rotated ${video.rotation}°)` : ''}`]);
    if (video.frame_rate) rows.push(['Frame rate', `${Math.round(video.frame_rate * 100) / 100} fps`]);
    if (video.codec) rows.push(['Video codec', video.codec]);
  } else {
    rows.push(['Video', 'none']);
  }
  if (audio) {
    rows.push([
      'Audio',
      [audio.codec, audio.channels && `${audio.channels} channel${audio.channels === 1 ? '' : 's'}`, audio.sample_rate && `${audio.sample_rate / 1000} kHz`]
        .filter(Boolean)
        .join(', '),
    ]);
  } else {
    rows.push(['Audio', 'none']);
  }
  return (
    <dl class="facts">
      {rows.map(([k, v]) => (
        <div>
          <dt>{k}</dt>
          <dd>{v}</dd>
        </div>
      ))}
    </dl>
  );
}

/** The titles (of those the caller may edit) that play this asset; the API has no reverse lookup, so it reads them. */
function useTitlesOf(assetId: string, ownerId: string | undefined, isAdmin: boolean) {
  const [titles, setTitles] = useState<{ title: Title; role: string }[]>();
  useEffect(() => {
    if (!ownerId) return;
    const controller = new AbortController();
    (async () => {
      const all = await loadAll<Title>('/v1/titles', { available: 'any' }, controller.signal, 5);
      const mine = all.filter((t) => isAdmin || t.owner_id === ownerId).slice(0, 100);
      const found: { title: Title; role: string }[] = [];
      await Promise.all(
        mine.map(async (t) => {
          const detail = await get<TitleDetail>(`/v1/titles/${t.id}`, { signal: controller.signal }).catch(() => null);
          const link = detail?.assets.find((a) => a.asset_id === assetId);
          if (link) found.push({ title: t, role: link.role });
        }),
      );
      if (!controller.signal.aborted) setTitles(found);
    })().catch(() => {
      if (!controller.signal.aborted) setTitles([]);
    });
    return () => controller.abort();
  }, [assetId, ownerId, isAdmin]);
  return titles;
}

export function AssetPage() {
  const { params } = useRoute();
  const { route } = useLocation();
  const { user } = useSession();
  const id = params.id;
  const [asset, setAsset] = useState<Asset>();
  const [error, setError] = useState<unknown>();
  useTitle(asset ? assetName(asset) : 'Video');

  useEffect(() => {
    const controller = new AbortController();
    get<Asset>(`/v1/assets/${id}`, { signal: controller.signal })
      .then(setAsset)
      .catch((e) => {
        if (!controller.signal.aborted) setError(e);
      });
    return () => controller.abort();
  }, [id]);

  useLiveAssets(asset ? [asset] : undefined, (update) => setAsset((old) => update(old ? [old] : undefined)?.[0]));
  const titles = useTitlesOf(id, asset?.owner_id, hasRole(user, 'admin'));

  if (error) {
    return (
      <StudioPage>
        <h1>Video</h1>
        <ErrorNotice
          error={error instanceof ApiError && error.status === 404 ? 'No such video: it may have been deleted.' : error}
          title="Could not load this video."
        />
        <p>
          <a href="/studio">Back to the library</a>
        </p>
      </StudioPage>
    );
  }
  if (!asset) {
    return (
      <StudioPage>
        <Loading />
      </StudioPage>
    );
  }
  const name = assetName(asset);
  const duration = asset.duration_seconds ?? asset.source?.duration_seconds;
  const firstTitle = titles?.[0];
  return (
    <StudioPage>
      <p class="small">
        <a href="/studio">Library</a> ›
      </p>
      <h1>{name}</h1>
      <div class="asset-detail">
        <div class="asset-detail-poster">
          <Poster url={asset.poster?.url} class="poster-large" alt={asset.poster?.url ? `A frame of ${name}` : ''} />
        </div>
        <div class="stack">
          <p class="row">
            <StatusBadge status={asset.status} />
            {duration != null && <span>{formatDuration(duration)}</span>}
            <span class="muted">Added {formatTime(asset.created_at)}</span>
          </p>
          {inFlight(asset) && <TranscodeProgress asset={asset} label={`Transcoding ${name}`} />}
          <AssetError asset={asset} />
          <dl class="facts">
            <div>
              <dt>Playback</dt>
              <dd>{asset.playback_policy === 'public' ? 'Public: anyone with the link' : 'Signed: viewers with access only'}</dd>
            </div>
            <div>
              <dt>Ladder preset</dt>
              <dd>{asset.preset}</dd>
            </div>
            <div>
              <dt>Id</dt>
              <dd>
                <code>{asset.id}</code>
              </dd>
            </div>
          </dl>
          <div class="row">
            {asset.status === 'ready' && firstTitle && (
              <a class="button" href={`/watch/${firstTitle.title.id}?asset=${asset.id}`}>
                Preview
              </a>
            )}
            <a class="button secondary" href={`/studio/titles/new?asset=${asset.id}`}>
              Create a title for it
            </a>
          </div>
          <AssetActions asset={asset} onChange={setAsset} onDeleted={() => route('/studio')} />
        </div>
      </div>

      <h2>In the catalog</h2>
      {titles === undefined ? (
        <Loading label="Looking for titles that play it…" />
      ) : titles.length === 0 ? (
        <p class="muted">
          No title plays this video yet. <a href={`/studio/titles/new?asset=${asset.id}`}>Create a title for it</a> to put it in the catalog
          and to preview it (the watch page plays titles; the title can stay unpublished while you check it).
        </p>
      ) : (
        <ul>
          {titles.map(({ title, role }) => (
            <li>
              <a href={`/studio/titles/${title.id}`}>{title.title}</a> <span class="muted">({role})</span>
            </li>
          ))}
        </ul>
      )}

      <h2>Source</h2>
      <SourceFacts asset={asset} />

      <h2>Renditions</h2>
      {asset.renditions && asset.renditions.length > 0 ? (
        <div class="table-scroll" tabIndex={0} role="region" aria-label="Renditions">
          <table>
            <caption class="visually-hidden">The published renditions of {name}</caption>
            <thead>
              <tr>
                <th scope="col">Rendition</th>
                <th scope="col">Size</th>
                <th scope="col">Bitrate (average)</th>
                <th scope="col">Codecs</th>
              </tr>
            </thead>
            <tbody>
              {asset.renditions.map((r) => (
                <tr>
                  <td>{r.name}</td>
                  <td>{r.width && r.height ? `${r.width} × ${r.height}` : '—'}</td>
                  <td>
                    {bitrate(r.bandwidth)}
                    {r.average_bandwidth ? ` (${bitrate(r.average_bandwidth)})` : ''}
                  </td>
                  <td>
                    <code>{r.codecs}</code>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : (
        <p class="muted">{asset.status === 'ready' ? 'No renditions were reported.' : 'The renditions are listed once the transcode is done.'}</p>
      )}
    </StudioPage>
  );
}
