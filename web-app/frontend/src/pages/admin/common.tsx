// What the admin pages share: the frame (a way back to the overview, the title; routes.tsx lets only admins
// in), the API's shapes they read, and how they write prices, ages and progress.

import type { ComponentChildren } from 'preact';
import type { Money } from '../../api-types';
import { useTitle } from '../../hooks';
import { formatDuration, formatTime } from '../../format';
import './admin.css';

export function AdminPage({
  title,
  children,
  parent,
  overview,
}: {
  title: string;
  children: ComponentChildren;
  parent?: { href: string; name: string };
  /** The overview itself: no way back to show. */
  overview?: boolean;
}) {
  useTitle(title);
  return (
    <section class="page admin stack">
      {!overview && (
        <nav aria-label="Breadcrumb" class="breadcrumb">
          <a href="/admin">Admin</a>
          {parent && (
            <>
              {' / '}
              <a href={parent.href}>{parent.name}</a>
            </>
          )}
        </nav>
      )}
      <h1>{title}</h1>
      {children}
    </section>
  );
}

// ---- The API's shapes (from /openapi.json) ----

export type Role = 'viewer' | 'creator' | 'admin';
export const ROLES: Role[] = ['viewer', 'creator', 'admin'];

export interface User {
  id: string;
  email: string;
  role: Role;
  created_at: number;
  disabled_at?: number | null;
}


export type { Money, Page, Plan, Unlocks } from '../../api-types';

export const EVENT_TYPES = ['asset.created', 'upload.completed', 'asset.processing', 'asset.ready', 'asset.errored', 'asset.deleted'] as const;
export interface Endpoint {
  id: string;
  owner_id: string;
  url: string;
  description: string;
  created_at: number;
  disabled_at?: number | null;
  event_types?: string[] | null;
}
export interface Delivery {
  id: string;
  endpoint_id: string;
  event_id: string;
  event_type: string;
  state: 'pending' | 'sending' | 'delivered' | 'given_up';
  attempts: number;
  created_at: number;
  delivered_at?: number | null;
  given_up_at?: number | null;
  last_attempt_at?: number | null;
  last_error?: string | null;
  last_status_code?: number | null;
  next_attempt_at?: number | null;
}
export interface Attempt {
  attempt: number;
  attempted_at: number;
  duration_ms: number;
  error?: string | null;
  status_code?: number | null;
}
export interface EventItem {
  seq: number;
  id: string;
  type: string;
  owner_id: string;
  asset_id?: string | null;
  data: unknown;
  created_at: number;
}

export interface Progress {
  percent?: number;
  stage?: string;
  fps?: number;
  eta_seconds?: number;
}
export interface RunningJob {
  job_id: string;
  asset_id: string;
  attempt: number;
  progress?: Progress | null;
}
export interface Worker {
  id: string;
  name: string;
  encoders: string[];
  capacity: number;
  registered_at: number;
  last_seen_at: number;
  draining: boolean;
  running: RunningJob[];
}
export type AssetStatus = 'waiting_upload' | 'queued' | 'processing' | 'ready' | 'errored' | 'deleted';
export interface Asset {
  id: string;
  owner_id: string;
  status: AssetStatus;
  preset: string;
  created_at: number;
  updated_at: number;
  duration_seconds?: number | null;
  progress?: Progress | null;
  error?: { code: string; message: string } | null;
}

// ---- Writing things ----

/** How many minor units a currency has after its decimal point (2 for EUR, 0 for JPY, 3 for KWD). */
export function minorDigits(currency: string): number {
  try {
    return new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits ?? 2;
  } catch {
    return 2;
  }
}

/** A price in minor units, written in the currency's own way. */
export function formatPrice({ amount_minor, currency }: Money): string {
  const digits = minorDigits(currency);
  try {
    return new Intl.NumberFormat(undefined, { style: 'currency', currency }).format(amount_minor / 10 ** digits);
  } catch {
    return `${(amount_minor / 10 ** digits).toFixed(digits)} ${currency}`;
  }
}

/**
 * A price typed in major units ("4.99", "4,99", "500") as minor units of `currency`, exactly (no floating point);
 * a sentence saying what is wrong when it cannot be one.
 */
export function toMinor(text: string, currency: string): number | string {
  const digits = minorDigits(currency);
  const match = /^(\d{1,12})(?:[.,](\d+))?$/.exec(text.trim());
  if (!match) return 'Write the price as a number, such as 4.99.';
  const fraction = match[2] ?? '';
  if (fraction.length > digits) {
    return digits === 0 ? `${currency} has no minor unit: write a whole number.` : `${currency} has ${digits} decimal places at most.`;
  }
  const minor = Number(match[1]) * 10 ** digits + Number(fraction.padEnd(digits, '0') || '0');
  if (minor < 1) return 'The price must be more than zero.';
  return minor;
}

/** "12 s ago", "5 min ago", "3 h ago", or the date and time. */
export function ago(ms: number, now = Date.now()): string {
  const seconds = Math.max(0, Math.round((now - ms) / 1000));
  if (seconds < 60) return `${seconds} s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ago`;
  return formatTime(ms);
}

/** The last 12 characters of an id (the random part of a uuid v7): enough to tell them apart on a page; the whole id in a tooltip. */
export function ShortId({ id }: { id: string }) {
  return (
    <code class="short-id" title={id}>
      {id.slice(-12)}
    </code>
  );
}

/** A transcode's progress: a bar with its percent, and the stage, speed and time left in words. */
export function ProgressView({ progress, label }: { progress?: Progress | null; label: string }) {
  if (!progress || progress.percent === undefined) return <span class="muted">No progress reported yet</span>;
  const percent = Math.max(0, Math.min(100, progress.percent));
  const parts = [
    progress.stage,
    progress.fps !== undefined ? `${progress.fps.toFixed(1)} fps` : undefined,
    progress.eta_seconds !== undefined ? `${formatDuration(progress.eta_seconds)} left` : undefined,
  ].filter(Boolean);
  return (
    <div class="progress-view">
      <progress max={100} value={percent} aria-label={label} />
      <span>
        {percent.toFixed(0)}%{parts.length > 0 && ` · ${parts.join(' · ')}`}
      </span>
    </div>
  );
}
