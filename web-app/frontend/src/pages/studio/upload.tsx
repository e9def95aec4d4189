// Uploading videos (/studio/upload): drop files (or choose them), each goes up with tus and shows a progress
// bar, bytes, speed and time left, with pause, resume and cancel. Uploads left unfinished (a reload, a closed
// tab, a network failure) are listed, and go on from where they stopped when the creator picks the file again.

import type { PreviousUpload } from 'tus-js-client';
import { useEffect, useState } from 'preact/hooks';
import { ErrorNotice } from '../../components/notice';
import { formatBytes, formatDuration, formatTime } from '../../format';
import { useTitle } from '../../hooks';
import { useSession } from '../../session';
import { StudioPage } from './common';
import {
  cancelUpload,
  currentUploads,
  dismissUpload,
  forgetUpload,
  pauseUpload,
  resumeUpload,
  startUpload,
  subscribe,
  unfinishedUploads,
  type UploadItem,
} from './uploads';

function useUploads(): UploadItem[] {
  const [items, setItems] = useState(currentUploads());
  useEffect(() => subscribe(() => setItems(currentUploads())), []);
  return items;
}

const STATE_WORDS: Record<UploadItem['state'], string> = {
  starting: 'Starting…',
  uploading: 'Uploading',
  paused: 'Paused',
  done: 'Uploaded: transcoding starts now',
  failed: 'Stopped',
  canceled: 'Canceled',
};

function UploadRow({ item }: { item: UploadItem }) {
  const id = `upload-${item.key}`;
  const percent = item.size > 0 ? Math.floor((item.sent / item.size) * 100) : 100;
  const left = item.speed && item.speed > 0 ? (item.size - item.sent) / item.speed : null;
  const facts = [`${formatBytes(item.sent)} of ${formatBytes(item.size)}`, `${percent} %`];
  if (item.state === 'uploading' && item.speed) facts.push(`${formatBytes(item.speed)}/s`);
  if (item.state === 'uploading' && left !== null) facts.push(`${formatDuration(left)} left`);
  return (
    <li class="card upload-row" data-state={item.state}>
      <div class="row spread">
        <label for={id} class="upload-name">
          {item.name}
        </label>
        <span class="small" role="status">
          {STATE_WORDS[item.state]}
          {item.resumedFrom ? ` · resumed at ${formatBytes(item.resumedFrom)}` : ''}
        </span>
      </div>
      <progress id={id} max={item.size || 1} value={item.sent} />
      <p class="small muted upload-facts">{facts.join(' · ')}</p>
      {item.error && <p class="notice notice-error" role="alert">{item.error}</p>}
      <div class="row">
        {(item.state === 'uploading' || item.state === 'starting') && (
          <button type="button" class="secondary" onClick={() => pauseUpload(item.key)} aria-label={`Pause ${item.name}`}>
            Pause
          </button>
        )}
        {(item.state === 'paused' || item.state === 'failed') && (
          <button type="button" onClick={() => resumeUpload(item.key)} aria-label={`Resume ${item.name}`}>
            Resume
          </button>
        )}
        {item.state !== 'done' && (
          <button type="button" class="danger" onClick={() => cancelUpload(item.key)} aria-label={`Cancel ${item.name}`}>
            Cancel
          </button>
        )}
        {item.state === 'done' && item.assetId && (
          <a class="button secondary" href={`/studio/assets/${item.assetId}`}>
            Open {item.name}
          </a>
        )}
        {item.state === 'done' && (
          <button type="button" class="secondary" onClick={() => dismissUpload(item.key)} aria-label={`Clear ${item.name} from this list`}>
            Clear
          </button>
        )}
      </div>
    </li>
  );
}

function Unfinished({
  previous,
  onResume,
  onForget,
}: {
  previous: PreviousUpload;
  onResume: (file: File) => void;
  onForget: () => void;
}) {
  const name = previous.metadata.filename ?? 'a file';
  const inputId = `resume-${previous.urlStorageKey.replace(/[^A-Za-z0-9]/g, '')}`;
  const [error, setError] = useState<string>();
  return (
    <li class="card stack-small">
      <div>
        <strong>{name}</strong>{' '}
        <span class="muted small">
          {previous.size != null && formatBytes(previous.size)} · started {formatTime(Date.parse(previous.creationTime))}
        </span>
      </div>
      {error && <p class="notice notice-error" role="alert">{error}</p>}
      <div class="row">
        <span class="file-button">
          <input
            id={inputId}
            type="file"
            class="visually-hidden"
            onChange={(event) => {
              const input = event.currentTarget;
              const file = input.files?.[0];
              input.value = '';
              if (!file) return;
              if (file.name !== name || (previous.size != null && file.size !== previous.size)) {
                setError(`That is ${file.name} (${formatBytes(file.size)}), not ${name}: choose the same file to resume.`);
                return;
              }
              setError(undefined);
              onResume(file);
            }}
          />
          <label for={inputId} class="button">
            Choose {name} again to resume
          </label>
        </span>
        <button type="button" class="secondary" onClick={onForget} aria-label={`Forget it: the upload of ${name}`}>
          Forget it
        </button>
      </div>
    </li>
  );
}

export function UploadPage() {
  useTitle('Upload');
  const { user } = useSession();
  const items = useUploads();
  const [policy, setPolicy] = useState<'signed' | 'public'>('signed');
  const [over, setOver] = useState(false);
  const [previous, setPrevious] = useState<PreviousUpload[]>();
  const [error, setError] = useState<unknown>();
  const [generation, setGeneration] = useState(0);
  const userId = user?.id ?? '';

  useEffect(() => {
    if (!userId) return;
    unfinishedUploads(userId)
      .then(setPrevious)
      .catch(() => setPrevious([]));
    // Again whenever an upload starts, moves on or ends (a file picked again may resume a listed one).
  }, [userId, generation, items.map((i) => i.state).join()]);

  const add = (files: FileList | File[] | null | undefined) => {
    const list = Array.from(files ?? []);
    if (list.length === 0) return;
    setError(undefined);
    for (const file of list) {
      startUpload(file, { playbackPolicy: policy, userId }).catch(setError);
    }
  };

  const active = items.filter((i) => i.state === 'uploading' || i.state === 'starting').length;

  return (
    <StudioPage>
      <h1>Upload videos</h1>
      <ErrorNotice error={error} title="Could not start the upload." />
      <fieldset class="policy">
        <legend>Who may play them</legend>
        <label>
          <input type="radio" name="policy" value="signed" checked={policy === 'signed'} onChange={() => setPolicy('signed')} /> Viewers
          with access (through the catalog: plans, rentals)
        </label>
        <label>
          <input type="radio" name="policy" value="public" checked={policy === 'public'} onChange={() => setPolicy('public')} /> Anyone
          with the link
        </label>
      </fieldset>
      <div
        class={`dropzone${over ? ' over' : ''}`}
        onDragEnter={(e) => {
          e.preventDefault();
          setOver(true);
        }}
        onDragOver={(e) => {
          e.preventDefault();
          if (e.dataTransfer) e.dataTransfer.dropEffect = 'copy';
          setOver(true);
        }}
        onDragLeave={() => setOver(false)}
        onDrop={(e) => {
          e.preventDefault();
          setOver(false);
          add(e.dataTransfer?.files);
        }}
      >
        <p>Drag video files here (several at once if you like), or</p>
        <span class="file-button">
          <input
            id="upload-files"
            type="file"
            class="visually-hidden"
            accept="video/*,.mkv,.mov,.mxf,.webm"
            multiple
            onChange={(event) => {
              const input = event.currentTarget;
              add(input.files);
              input.value = '';
            }}
          />
          <label for="upload-files" class="button">
            Choose video files
          </label>
        </span>
        <p class="muted small">
          Uploads survive a reload or a lost connection: they go on from where they stopped. Unfinished uploads are kept
          for 24 hours.
        </p>
      </div>

      {items.length > 0 && (
        <section aria-labelledby="uploading-heading">
          <h2 id="uploading-heading">
            Uploads{active > 0 ? ` (${active} running)` : ''}
          </h2>
          <ul class="upload-list">
            {items.map((item) => (
              <UploadRow key={item.key} item={item} />
            ))}
          </ul>
          {items.some((i) => i.state === 'done') && (
            <p>
              <a href="/studio">See their transcoding in the library</a>
            </p>
          )}
        </section>
      )}

      {previous && previous.length > 0 && (
        <section aria-labelledby="unfinished-heading">
          <h2 id="unfinished-heading">Unfinished uploads</h2>
          <p class="muted">
            These stopped before they were done (the page was closed or reloaded). The browser needs the file again to
            go on: choose the same file and it resumes where it stopped.
          </p>
          <ul class="upload-list">
            {previous.map((p) => (
              <Unfinished
                key={p.urlStorageKey}
                previous={p}
                onResume={(file) => {
                  setPrevious((old) => old?.filter((o) => o !== p));
                  startUpload(file, { playbackPolicy: policy, userId }, p).catch(setError);
                }}
                onForget={async () => {
                  await forgetUpload(p);
                  setGeneration((g) => g + 1);
                }}
              />
            ))}
          </ul>
        </section>
      )}
    </StudioPage>
  );
}
