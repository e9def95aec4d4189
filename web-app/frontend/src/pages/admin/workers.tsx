// /admin/workers: the transcoding farm, refreshed every few seconds while the page is visible: each worker
// (encoders, when it was last heard from, what it runs with progress), the job queue (assets queued or
// transcoding, with the worker running each), cancelling one, errored assets with retry, and the latest done.

import { useEffect, useState } from 'preact/hooks';
import { idempotencyKey, post, withQuery } from '../../api';
import { ConfirmButton } from '../../components/confirm-dialog';
import { ErrorNotice, Loading, Note } from '../../components/notice';
import { formatDuration, formatTime } from '../../format';
import { useResource } from '../../hooks';
import { AdminPage, ago, ProgressView, ShortId, type Asset, type Page, type User, type Worker } from './common';

const REFRESH_MS = 3000;
/** A worker heartbeats and polls far more often than this; silent longer, it is probably gone. */
const SILENT_MS = 90_000;

export function WorkersPage() {
  const workers = useResource<Worker[]>('/v1/workers', REFRESH_MS);
  const queued = useResource<Page<Asset>>(withQuery('/v1/assets', { status: 'queued', limit: 200 }), REFRESH_MS);
  const processing = useResource<Page<Asset>>(withQuery('/v1/assets', { status: 'processing', limit: 200 }), REFRESH_MS);
  const errored = useResource<Page<Asset>>(withQuery('/v1/assets', { status: 'errored', limit: 200 }), REFRESH_MS);
  const ready = useResource<Page<Asset>>(withQuery('/v1/assets', { status: 'ready', limit: 200 }), REFRESH_MS * 3);
  const users = useResource<Page<User>>(withQuery('/v1/users', { limit: 200 }));
  const [said, setSaid] = useState('');
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, []);

  const owners = new Map((users.data?.items ?? []).map((u) => [u.id, u.email]));
  const runner = new Map<string, string>();
  for (const worker of workers.data ?? []) for (const job of worker.running) runner.set(job.asset_id, worker.name);
  const owner = (id: string) => owners.get(id) ?? id;

  const queue = [...(processing.data?.items ?? []), ...(queued.data?.items ?? [])];
  const failed = [...(errored.data?.items ?? [])].sort((a, b) => b.updated_at - a.updated_at);
  const done = [...(ready.data?.items ?? [])].sort((a, b) => b.updated_at - a.updated_at).slice(0, 10);
  const refreshAll = () => {
    queued.reload();
    processing.reload();
    errored.reload();
    ready.reload();
    workers.reload();
  };

  return (
    <AdminPage title="Workers and job queue">
      <p class="muted">Refreshed every few seconds while this page is visible.</p>
      <p role="status" class="said">
        {said}
      </p>

      <h2>Workers</h2>
      <ErrorNotice error={workers.error} title="Could not load the workers." />
      {workers.loading && !workers.data && <Loading label="Loading workers…" />}
      {workers.data && workers.data.length === 0 && (
        <p>No worker has been seen in the last day: nothing will be transcoded until one runs (<code>marquee worker</code>).</p>
      )}
      <ul class="admin-list workers" role="list" aria-label="Workers">
        {(workers.data ?? []).map((worker) => {
          const silent = now - worker.last_seen_at > SILENT_MS;
          const state = worker.draining ? 'draining' : silent ? 'not heard from' : worker.running.length > 0 ? 'busy' : 'idle';
          return (
            <li class="card admin-item" key={worker.id}>
              <div class="admin-item-head">
                <strong>{worker.name}</strong>
                <span class={`badge worker-${state.replace(/ /g, '-')}`}>{state}</span>
              </div>
              <p class="muted">
                Encoders {worker.encoders.join(', ') || 'none'} · {worker.running.length} of {worker.capacity} job
                {worker.capacity === 1 ? '' : 's'} · last seen {ago(worker.last_seen_at, now)} · registered {formatTime(worker.registered_at)}
              </p>
              {worker.draining && <p>Draining: it takes no new jobs and stops when those it has are done or handed back.</p>}
              {worker.running.length > 0 && (
                <ul class="running" aria-label={`Jobs running on ${worker.name}`}>
                  {worker.running.map((job) => (
                    <li key={job.job_id}>
                      Asset <ShortId id={job.asset_id} /> (attempt {job.attempt})
                      <ProgressView progress={job.progress} label={`Progress of asset ${job.asset_id.slice(-12)} on ${worker.name}`} />
                    </li>
                  ))}
                </ul>
              )}
            </li>
          );
        })}
      </ul>
      <Note>
        Draining a worker from this page is not available: the API lets only a worker drain itself. Stop the worker's
        process with SIGTERM (Ctrl-C) to drain it; its jobs finish or go back to the queue.
      </Note>

      <h2>Job queue</h2>
      <ErrorNotice error={queued.error ?? processing.error} title="Could not load the queue." />
      {(queued.loading || processing.loading) && !queued.data && <Loading label="Loading the queue…" />}
      {queued.data && processing.data && queue.length === 0 && <p>Nothing is queued or transcoding. New uploads wait here for a worker.</p>}
      {queue.length > 0 && (
        <div class="table-scroll">
          <table class="stacked" aria-label="Job queue">
            <thead>
              <tr>
                <th scope="col">Asset</th>
                <th scope="col">Owner</th>
                <th scope="col">State</th>
                <th scope="col">Worker</th>
                <th scope="col">Progress</th>
                <th scope="col">
                  <span class="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {queue.map((asset) => (
                <tr key={asset.id}>
                  <td data-label="Asset">
                    <ShortId id={asset.id} />
                    {asset.duration_seconds ? <span class="muted"> {formatDuration(asset.duration_seconds)}</span> : null}
                  </td>
                  <td data-label="Owner">{owner(asset.owner_id)}</td>
                  <td data-label="State">
                    <span class={`badge status-${asset.status}`}>{asset.status === 'processing' ? 'transcoding' : 'queued'}</span>
                    <span class="muted"> since {ago(asset.updated_at, now)}</span>
                  </td>
                  <td data-label="Worker">{runner.get(asset.id) ?? <span class="muted">waiting for a worker</span>}</td>
                  <td data-label="Progress">
                    <ProgressView progress={asset.progress} label={`Progress of asset ${asset.id.slice(-12)}`} />
                  </td>
                  <td data-label="Actions">
                    <ConfirmButton
                      label="Cancel"
                      ariaLabel={`Cancel the transcode of asset ${asset.id.slice(-12)}`}
                      title="Cancel this transcode?"
                      confirmLabel="Cancel the transcode"
                      danger
                      onConfirm={async () => {
                        await post(`/v1/assets/${asset.id}/cancel`, undefined, { headers: { 'Idempotency-Key': idempotencyKey() } });
                        setSaid(`Canceled the transcode of asset ${asset.id.slice(-12)}.`);
                        refreshAll();
                      }}
                    >
                      <p>
                        Asset <code>{asset.id}</code> of {owner(asset.owner_id)} stops transcoding (a running job within a heartbeat) and is
                        marked errored with the code <code>canceled</code>. Its source is kept: it can be retried.
                      </p>
                    </ConfirmButton>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}

      <h2>Errored</h2>
      <ErrorNotice error={errored.error} title="Could not load the errored assets." />
      {errored.data && failed.length === 0 && <p>No asset has failed.</p>}
      <ul class="admin-list" role="list" aria-label="Errored assets">
        {failed.map((asset) => (
          <li class="card admin-item" key={asset.id}>
            <div class="admin-item-head">
              <span>
                Asset <ShortId id={asset.id} />
              </span>
              <span class="muted">{owner(asset.owner_id)}</span>
              <span class="muted">{ago(asset.updated_at, now)}</span>
            </div>
            <p>
              {asset.error ? (
                <>
                  <code>{asset.error.code}</code>: {asset.error.message}
                </>
              ) : (
                'It failed without a reason given.'
              )}
            </p>
            <RetryButton
              asset={asset}
              onDone={() => {
                setSaid(`Asset ${asset.id.slice(-12)} is queued again.`);
                refreshAll();
              }}
            />
          </li>
        ))}
      </ul>

      <h2>Done lately</h2>
      <ErrorNotice error={ready.error} title="Could not load the ready assets." />
      {ready.data && done.length === 0 && <p>No asset is ready yet.</p>}
      <ul class="admin-list" role="list" aria-label="Ready assets">
        {done.map((asset) => (
          <li class="card admin-item compact" key={asset.id}>
            <span>
              Asset <ShortId id={asset.id} />
            </span>{' '}
            <span class="badge status-ready">ready</span> <span class="muted">{owner(asset.owner_id)} · {ago(asset.updated_at, now)}</span>
          </li>
        ))}
      </ul>
      {ready.data?.next_cursor && <p class="muted">Showing the latest of the first 200 ready assets.</p>}
    </AdminPage>
  );
}

function RetryButton({ asset, onDone }: { asset: Asset; onDone(): void }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  return (
    <div class="stack">
      <ErrorNotice error={error} title="Could not retry." />
      <div>
        <button
          type="button"
          disabled={busy}
          aria-label={`Retry asset ${asset.id.slice(-12)}`}
          onClick={async () => {
            setBusy(true);
            setError(undefined);
            try {
              await post(`/v1/assets/${asset.id}/transcode`, {}, { headers: { 'Idempotency-Key': idempotencyKey() } });
              onDone();
            } catch (e) {
              setError(e);
            } finally {
              setBusy(false);
            }
          }}
        >
          {busy ? 'Queuing…' : 'Retry'}
        </button>
      </div>
    </div>
  );
}
