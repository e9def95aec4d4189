// What the studio's pages share: their sub-navigation, an asset's status in words, the names of uploaded
// files (the API does not keep them on the asset: this browser remembers the ones it uploaded), paging through
// a whole list, and a delete button that asks first.

import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { useLocation } from 'preact-iso';
import { get, withQuery } from '../../api';
import { formatDuration } from '../../format';
import type { Asset, AssetStatus, JobProgress, Page } from './types';
import './studio.css';

const LINKS: [string, string][] = [
  ['/studio', 'Library'],
  ['/studio/upload', 'Upload'],
  ['/studio/titles', 'Titles'],
];

export function StudioNav() {
  const { path } = useLocation();
  return (
    <nav class="studio-nav" aria-label="Studio">
      {LINKS.map(([href, label]) => {
        const current =
          href === '/studio' ? path === '/studio' || path.startsWith('/studio/assets') : path.startsWith(href);
        return (
          <a href={href} aria-current={current ? 'page' : undefined}>
            {label}
          </a>
        );
      })}
    </nav>
  );
}

/** A studio page: its sub-navigation, then the page. */
export function StudioPage({ children }: { children: ComponentChildren }) {
  return (
    <section class="page studio">
      <StudioNav />
      {children}
    </section>
  );
}

const STATUS_WORDS: Record<AssetStatus, string> = {
  waiting_upload: 'Waiting for its upload',
  queued: 'Queued for transcoding',
  processing: 'Transcoding',
  ready: 'Ready',
  errored: 'Failed',
  deleted: 'Deleted',
};

export function statusWords(status: AssetStatus): string {
  return STATUS_WORDS[status] ?? status;
}

export function inFlight(asset: Asset): boolean {
  return asset.status === 'queued' || asset.status === 'processing';
}

export function StatusBadge({ status }: { status: AssetStatus }) {
  return <span class={`status status-${status}`}>{statusWords(status)}</span>;
}

const STAGE_WORDS: Record<string, string> = {
  fetching: 'Fetching the source',
  encoding: 'Encoding',
  publishing: 'Publishing',
};

/** A transcode's progress: a labelled progress bar (indeterminate until a percent is known) and its details. */
export function TranscodeProgress({ asset, label }: { asset: Asset; label: string }) {
  const progress: JobProgress | null | undefined = asset.progress;
  const percent = progress?.percent ?? null;
  const id = `progress-${asset.id}`;
  const details: string[] = [];
  if (asset.status === 'queued') details.push('waiting for a worker');
  if (progress?.stage) details.push(STAGE_WORDS[progress.stage] ?? progress.stage);
  if (percent !== null) details.push(`${Math.floor(percent)} %`);
  if (progress?.fps) details.push(`${Math.round(progress.fps)} fps`);
  if (progress?.eta_seconds != null) details.push(`about ${formatDuration(progress.eta_seconds)} left`);
  return (
    <div class="transcode-progress">
      <label for={id} class="visually-hidden">
        {label}
      </label>
      <progress id={id} max={100} value={percent ?? undefined} />
      <span class="muted small">{details.join(' · ')}</span>
    </div>
  );
}

const NAMES_KEY = 'marquee.studio.asset-names';

function names(): Record<string, string> {
  try {
    return JSON.parse(localStorage.getItem(NAMES_KEY) ?? '{}') as Record<string, string>;
  } catch {
    return {};
  }
}

/** Remembers the file name an asset was uploaded from (in this browser). */
export function rememberAssetName(assetId: string, name: string): void {
  const all = names();
  all[assetId] = name;
  localStorage.setItem(NAMES_KEY, JSON.stringify(all));
}

/** What to call an asset: the file it was uploaded from when this browser uploaded it, else its source URL or id. */
export function assetName(asset: Pick<Asset, 'id' | 'input_url'>): string {
  const name = names()[asset.id];
  if (name) return name;
  if (asset.input_url) return asset.input_url.split('/').pop() || asset.input_url;
  // Ids are UUID v7: their start is the time, their end tells them apart.
  return `Video …${asset.id.slice(-8)}`;
}

/** Every item of a paged list (`limit` 200 a page), at most `maxPages` pages. */
export async function loadAll<T>(
  path: string,
  query: Record<string, string | number | undefined> = {},
  signal?: AbortSignal,
  maxPages = 20,
): Promise<T[]> {
  const items: T[] = [];
  let after: string | undefined;
  for (let page = 0; page < maxPages; page++) {
    const answer = await get<Page<T>>(withQuery(path, { ...query, limit: 200, after }), { signal });
    items.push(...answer.items);
    if (!answer.next_cursor) break;
    after = answer.next_cursor;
  }
  return items;
}

/** A button that asks "are you sure?" in place before calling `onConfirm`. */
export function ConfirmButton({
  label,
  question,
  confirmLabel,
  onConfirm,
  disabled,
}: {
  label: string;
  question: string;
  confirmLabel: string;
  onConfirm: () => void | Promise<void>;
  disabled?: boolean;
}) {
  const [asking, setAsking] = useState(false);
  const [busy, setBusy] = useState(false);
  const confirm = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    if (asking) confirm.current?.focus();
  }, [asking]);
  if (!asking) {
    return (
      <button type="button" class="danger" disabled={disabled} onClick={() => setAsking(true)}>
        {label}
      </button>
    );
  }
  return (
    <span class="confirm row" role="group" aria-label={question}>
      <span>{question}</span>
      <button
        type="button"
        class="danger"
        disabled={busy}
        ref={confirm}
        onClick={async () => {
          setBusy(true);
          try {
            await onConfirm();
          } finally {
            setBusy(false);
            setAsking(false);
          }
        }}
      >
        {confirmLabel}
      </button>
      <button type="button" class="secondary" onClick={() => setAsking(false)}>
        Cancel
      </button>
    </span>
  );
}

export function Poster({ url, alt = '', class: className = 'thumb' }: { url?: string | null; alt?: string; class?: string }) {
  return url ? <img class={className} src={url} alt={alt} loading="lazy" /> : <div class={`${className} no-poster`} aria-hidden="true" />;
}
