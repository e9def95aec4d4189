// QoE beacons: what a view went through (start, first frame, stalls, rendition switches, errors, heartbeats,
// end), sent in batches to POST /v1/beacons; the last batch goes with `keepalive` when the page is left.

import { ApiError, post } from '../api';

export type BeaconType =
  | 'view_start'
  | 'first_frame'
  | 'heartbeat'
  | 'rebuffer_start'
  | 'rebuffer_end'
  | 'rendition_change'
  | 'error'
  | 'view_end';

export interface BeaconFields {
  position_ms?: number;
  duration_ms?: number;
  bitrate_bps?: number;
  rendition?: string;
  error_code?: string;
}

interface BeaconEvent extends BeaconFields {
  view_id: string;
  type: BeaconType;
  at: number;
  asset_id: string;
  title_id?: string;
  viewer: string;
}

/** Send what has gathered this often. */
const FLUSH_MS = 10_000;
/** The API takes at most this many per request (and the queue keeps no more than a few batches). */
const MAX_BATCH = 100;
const MAX_QUEUED = 500;
const DEVICE_KEY = 'marquee.device';

/** A stable anonymous id of this browser, for unique viewers when nobody is signed in. */
function deviceId(): string {
  try {
    let id = localStorage.getItem(DEVICE_KEY);
    if (!id) {
      id = crypto.randomUUID();
      localStorage.setItem(DEVICE_KEY, id);
    }
    return id;
  } catch {
    return 'unknown-device';
  }
}

/** The beacons of one view (one playback session). */
export class ViewBeacons {
  readonly viewId = crypto.randomUUID();
  private queue: BeaconEvent[] = [];
  private timer: ReturnType<typeof setInterval> | undefined;
  private sending = false;
  private ended = false;
  /** Whether anything was said of this view: a view that never began needs no end. */
  private begun = false;
  private readonly viewer = deviceId();

  constructor(
    private readonly assetId: string,
    private readonly titleId?: string,
  ) {
    this.timer = setInterval(() => this.flush(), FLUSH_MS);
  }

  add(type: BeaconType, fields: BeaconFields = {}): void {
    if (this.ended) return;
    this.begun = true;
    const event: BeaconEvent = {
      view_id: this.viewId,
      type,
      at: Date.now(),
      asset_id: this.assetId,
      viewer: this.viewer,
      ...clean(fields),
    };
    if (this.titleId) event.title_id = this.titleId;
    this.queue.push(event);
    if (this.queue.length > MAX_QUEUED) this.queue.splice(0, this.queue.length - MAX_QUEUED);
    if (type === 'view_end') this.ended = true;
  }

  /** Sends what has gathered; with `leaving`, in a request that outlives the page. */
  flush(leaving = false): void {
    if (this.queue.length === 0 || (this.sending && !leaving)) return;
    const events = this.queue.splice(0, MAX_BATCH);
    this.sending = true;
    post('/v1/beacons', { events }, { keepalive: leaving })
      .catch((error: unknown) => {
        // Busy or rate-limited: keep them for the next flush. Anything else would fail again: drop them.
        if (error instanceof ApiError && (error.status === 429 || error.status === 503 || error.status === 0)) {
          this.queue.unshift(...events);
        }
      })
      .finally(() => {
        this.sending = false;
      });
  }

  /** Ends the view (once) and sends everything. */
  close(fields: BeaconFields = {}, leaving = false): void {
    if (this.begun && !this.ended) this.add('view_end', fields);
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    this.flush(leaving);
  }
}

function clean(fields: BeaconFields): BeaconFields {
  const out: BeaconFields = {};
  for (const [key, value] of Object.entries(fields) as [keyof BeaconFields, number | string | undefined][]) {
    if (value === undefined || (typeof value === 'number' && !Number.isFinite(value))) continue;
    (out as Record<string, number | string>)[key] = typeof value === 'number' ? Math.max(0, Math.round(value)) : value;
  }
  return out;
}
