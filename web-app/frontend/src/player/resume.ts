// Where each viewer stopped in each asset, kept in this browser (the API keeps no playback position yet), so
// the watch page can offer "Resume from m:ss".

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

/** The position to offer resuming from, if any. */
export function loadPosition(viewer: string, assetId: string): SavedPosition | null {
  try {
    const raw = localStorage.getItem(key(viewer, assetId));
    if (!raw) return null;
    const saved = JSON.parse(raw) as SavedPosition;
    if (typeof saved.position !== 'number' || Date.now() - saved.at > KEEP_MS) return null;
    if (saved.position < MIN_RESUME_S || isFinished(saved.position, saved.duration)) return null;
    return saved;
  } catch {
    return null;
  }
}

/** Keeps `position`; at the end, forgets it (the next visit starts over). */
export function savePosition(viewer: string, assetId: string, position: number, duration: number): void {
  try {
    if (!Number.isFinite(position)) return;
    if (isFinished(position, duration)) {
      localStorage.removeItem(key(viewer, assetId));
    } else {
      const saved: SavedPosition = { position, duration: Number.isFinite(duration) ? duration : 0, at: Date.now() };
      localStorage.setItem(key(viewer, assetId), JSON.stringify(saved));
    }
  } catch {
    // Storage full or refused: resuming is a convenience.
  }
}
