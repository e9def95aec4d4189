// Where each viewer stopped in each asset, so the watch page can offer "Resume from m:ss": the API's
// "continue watching" (from the players' beacons, on any device) for a signed-in viewer, and this browser's own
// record as the fallback (signed out, or the last beacons not stored yet); the more recent of the two wins.

import { get } from '../api';

const PREFIX = 'marquee.position.';
/** Positions older than this are forgotten. */
const KEEP_MS = 90 * 24 * 3600 * 1000;
/** Closer to the start than this is not worth resuming. */
const MIN_RESUME_S = 3;

export interface SavedPosition {
  /** Seconds into the asset. */
  position: number;
  duration: number;
  /** When it was saved, Unix milliseconds. */
  at: number;
}

function key(viewer: string, assetId: string): string {
  return `${PREFIX}${viewer}.${assetId}`;
}

/** Whether `position` of `duration` is the end (the credits): nothing to resume. */
export function isFinished(position: number, duration: number): boolean {
  return duration > 0 && position >= duration - Math.max(2, duration * 0.05);
}

function worthResuming(saved: SavedPosition): boolean {
  return saved.position >= MIN_RESUME_S && !isFinished(saved.position, saved.duration);
}

/** What this browser kept of where the viewer stopped (a finished view too: it outranks an older record). */
export function loadPosition(viewer: string, assetId: string): SavedPosition | null {
  try {
    const raw = localStorage.getItem(key(viewer, assetId));
    if (!raw) return null;
    const saved = JSON.parse(raw) as SavedPosition;
    if (typeof saved.position !== 'number' || typeof saved.at !== 'number' || Date.now() - saved.at > KEEP_MS) return null;
    return saved;
  } catch {
    return null;
  }
}

/** One item of GET /v1/me/continue-watching. */
export interface ContinueWatching {
  asset_id: string;
  title_id?: string | null;
  position_seconds: number;
  duration_seconds?: number | null;
  /** Unix milliseconds. */
  watched_at: number;
}

/** Where the signed-in caller stopped in `assetId` by the API's record (any device; unfinished views only). */
export async function loadServerPosition(assetId: string): Promise<SavedPosition | null> {
  try {
    const { items } = await get<{ items: ContinueWatching[] }>('/v1/me/continue-watching?limit=100');
    const item = items.find((i) => i.asset_id === assetId);
    return item ? { position: item.position_seconds, duration: item.duration_seconds ?? 0, at: item.watched_at } : null;
  } catch {
    // Resuming is a convenience: without the API's record, this browser's will do.
    return null;
  }
}

/**
 * The position to offer resuming from, if any: the API's (it knows other devices) unless this browser's record
 * is more recent (its last beacons may not have been stored yet when the page asked, or it finished the video
 * since), and only if it is not at the very start or the end.
 */
export function resumePosition(server: SavedPosition | null, local: SavedPosition | null): SavedPosition | null {
  const newest = !server ? local : !local ? server : local.at > server.at ? local : server;
  return newest && worthResuming(newest) ? newest : null;
}

/** Keeps `position` (at the end too: the next visit starts over, whatever an older record says). */
export function savePosition(viewer: string, assetId: string, position: number, duration: number): void {
  try {
    if (!Number.isFinite(position)) return;
    const saved: SavedPosition = { position, duration: Number.isFinite(duration) ? duration : 0, at: Date.now() };
    localStorage.setItem(key(viewer, assetId), JSON.stringify(saved));
  } catch {
    // Storage full or refused: resuming is a convenience.
  }
}
