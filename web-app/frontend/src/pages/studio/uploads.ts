// The uploads in progress in this tab, kept outside any page so they go on (and are shown again) while the
// creator moves around the studio. Each is a tus upload (tus-js-client, loaded on first use) to /v1/uploads
// with the bearer token; tus-js-client remembers each unfinished upload's URL in localStorage, so after a
// reload the upload page lists them and resumes one when the creator picks the same file again.

import type { DetailedError, PreviousUpload, Upload } from 'tus-js-client';
import { accessToken } from '../../api';
import { rememberAssetName } from './common';

export type UploadState = 'starting' | 'uploading' | 'paused' | 'done' | 'failed' | 'canceled';

export interface UploadItem {
  key: string;
  name: string;
  size: number;
  state: UploadState;
  sent: number;
  /** Bytes a second over the last few seconds, once known. */
  speed: number | null;
  /** Where a resumed upload went on from (bytes the server had already). */
  resumedFrom: number | null;
  assetId: string | null;
  error: string | null;
}

type Entry = UploadItem & { upload: Upload; samples: [number, number][] };

/** Which user started each upload (by its URL) and the asset it makes, so another account does not see them. */
const OWNERS_KEY = 'marquee.studio.upload-owners';
const RETRY_DELAYS = [0, 1000, 3000, 5000, 10000, 20000];

let entries: Entry[] = [];
const listeners = new Set<() => void>();
let counter = 0;

function changed(): void {
  entries = [...entries];
  listeners.forEach((listener) => listener());
}

export function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function currentUploads(): UploadItem[] {
  return entries;
}

function owners(): Record<string, { user: string; asset?: string }> {
  try {
    return JSON.parse(localStorage.getItem(OWNERS_KEY) ?? '{}');
  } catch {
    return {};
  }
}

function setOwner(url: string, value: { user: string; asset?: string } | null): void {
  const all = owners();
  if (value) all[url] = value;
  else delete all[url];
  localStorage.setItem(OWNERS_KEY, JSON.stringify(all));
}

const tus = () => import('tus-js-client');

function isDetailed(error: unknown): error is DetailedError {
  return typeof error === 'object' && error !== null && 'originalRequest' in error;
}

/** What went wrong with an upload, in words. */
export function uploadErrorWords(error: unknown): string {
  if (!isDetailed(error)) return error instanceof Error ? error.message : String(error);
  const response = error.originalResponse;
  if (!response || response.getStatus() === 0) {
    return navigator.onLine === false
      ? 'This device is offline: reconnect, then choose Resume.'
      : 'The network failed and retrying did not help: check your connection, then choose Resume.';
  }
  let message = '';
  try {
    message = (JSON.parse(response.getBody()) as { error?: { message?: string } }).error?.message ?? '';
  } catch {
    // Not JSON.
  }
  const detail = message ? ` (${message})` : '';
  switch (response.getStatus()) {
    case 413:
      return `This file is larger than the server accepts${detail}.`;
    case 410:
      return 'This upload expired: unfinished uploads are kept for 24 hours. Start it again.';
    case 404:
      return 'The server no longer has this upload: start it again.';
    case 401:
      return 'Your session has ended: sign in again, then choose Resume.';
    case 403:
      return `Your account may not upload${detail}: uploading is for creators.`;
    case 423:
      return 'This upload is busy (in another tab, or a moment ago): choose Resume again in a minute.';
    case 460:
      return 'The data arrived damaged (checksum mismatch): choose Resume to send it again.';
    default:
      return `The server refused the upload: ${response.getStatus()}${detail}.`;
  }
}

function update(key: string, change: Partial<Entry>): void {
  const entry = entries.find((e) => e.key === key);
  if (!entry) return;
  Object.assign(entry, change);
  changed();
}

function speedOf(entry: Entry, sent: number): number | null {
  const now = performance.now();
  entry.samples.push([now, sent]);
  while (entry.samples.length > 2 && now - entry.samples[0][0] > 5000) entry.samples.shift();
  const [t0, b0] = entry.samples[0];
  return now - t0 > 500 ? ((sent - b0) * 1000) / (now - t0) : entry.speed;
}

export interface UploadOptions {
  playbackPolicy: 'public' | 'signed';
  userId: string;
}

/**
 * Starts uploading `file`: from where `previous` stopped when given, else from where an earlier upload of the
 * same file stopped (tus-js-client finds it by the file's name, type, size and date), else from the start.
 */
export async function startUpload(file: File, options: UploadOptions, previous?: PreviousUpload): Promise<void> {
  const { Upload } = await tus();
  const key = `upload-${++counter}`;
  const upload = new Upload(file, {
    endpoint: '/v1/uploads',
    retryDelays: RETRY_DELAYS,
    metadata: { filename: file.name, filetype: file.type, playback_policy: options.playbackPolicy },
    storeFingerprintForResuming: true,
    removeFingerprintOnSuccess: true,
    async onBeforeRequest(request) {
      const token = await accessToken();
      if (token) request.setHeader('Authorization', `Bearer ${token}`);
    },
    onAfterResponse(request, response) {
      const method = request.getMethod();
      if (method === 'POST' && response.getStatus() === 201) {
        const assetId = response.getHeader('Marquee-Asset-Id') ?? null;
        const url = upload.url ?? response.getHeader('Location');
        if (assetId) rememberAssetName(assetId, file.name);
        if (url) setOwner(new URL(url, location.href).pathname, { user: options.userId, asset: assetId ?? undefined });
        update(key, { assetId });
      } else if (method === 'HEAD' && response.getStatus() === 200) {
        const offset = Number(response.getHeader('Upload-Offset'));
        const owner = owners()[new URL(request.getURL(), location.href).pathname];
        update(key, { resumedFrom: Number.isFinite(offset) ? offset : null, assetId: owner?.asset ?? null, sent: offset || 0 });
      }
    },
    onProgress(sent) {
      const entry = entries.find((e) => e.key === key);
      if (!entry || entry.state === 'paused' || entry.state === 'canceled') return;
      update(key, { sent, state: 'uploading', speed: speedOf(entry, sent) });
    },
    onSuccess() {
      if (upload.url) setOwner(new URL(upload.url, location.href).pathname, null);
      update(key, { sent: file.size, state: 'done', speed: null, error: null });
    },
    onError(error) {
      update(key, { state: 'failed', speed: null, error: uploadErrorWords(error) });
    },
  });
  entries.push({
    key,
    name: file.name,
    size: file.size,
    state: 'starting',
    sent: 0,
    speed: null,
    resumedFrom: null,
    assetId: null,
    error: null,
    upload,
    samples: [],
  });
  changed();
  const earlier = previous ? [previous] : await upload.findPreviousUploads();
  if (earlier.length > 0) upload.resumeFromPreviousUpload(earlier[0]);
  upload.start();
}

export function pauseUpload(key: string): void {
  const entry = entries.find((e) => e.key === key);
  if (!entry) return;
  update(key, { state: 'paused', speed: null });
  entry.samples = [];
  void entry.upload.abort();
}

export function resumeUpload(key: string): void {
  const entry = entries.find((e) => e.key === key);
  if (!entry) return;
  update(key, { state: 'starting', error: null });
  entry.upload.start();
}

/** Stops the upload and has the server forget it (and the asset it was to become). */
export async function cancelUpload(key: string): Promise<void> {
  const entry = entries.find((e) => e.key === key);
  if (!entry) return;
  update(key, { state: 'canceled', speed: null });
  const url = entry.upload.url;
  try {
    await entry.upload.abort(true);
  } catch {
    // Not created on the server yet, or already gone: nothing to remove there.
  }
  if (url) setOwner(new URL(url, location.href).pathname, null);
  entries = entries.filter((e) => e.key !== key);
  changed();
}

export function dismissUpload(key: string): void {
  entries = entries.filter((e) => e.key !== key);
  changed();
}

/**
 * The unfinished uploads this browser remembers for `userId` that are not running in this tab: after a
 * reload, these are the ones to resume.
 */
export async function unfinishedUploads(userId: string): Promise<PreviousUpload[]> {
  const { defaultOptions } = await tus();
  const all = await defaultOptions.urlStorage.findAllUploads();
  const running = new Set(entries.map((e) => e.upload.url && new URL(e.upload.url, location.href).pathname));
  const known = owners();
  return all.filter((p) => {
    if (!p.uploadUrl) return false;
    const path = new URL(p.uploadUrl, location.href).pathname;
    const owner = known[path];
    return !running.has(path) && (!owner || owner.user === userId);
  });
}

/** Forgets an unfinished upload: the server removes what it stored, and this browser its note. */
export async function forgetUpload(previous: PreviousUpload): Promise<void> {
  const { Upload, defaultOptions } = await tus();
  if (previous.uploadUrl) {
    const token = await accessToken();
    await Upload.terminate(previous.uploadUrl, {
      headers: token ? { Authorization: `Bearer ${token}` } : {},
      retryDelays: [0, 1000],
    }).catch(() => undefined);
    setOwner(new URL(previous.uploadUrl, location.href).pathname, null);
  }
  await defaultOptions.urlStorage.removeUpload(previous.urlStorageKey);
}
