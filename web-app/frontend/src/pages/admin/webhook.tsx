// /admin/webhooks/:id: one endpoint and its delivery log (newest first, refreshed every few seconds), a
// delivery's attempts, and redelivery.

import { Fragment } from 'preact';
import { useState } from 'preact/hooks';
import { useRoute } from 'preact-iso';
import { get, idempotencyKey, post, withQuery } from '../../api';
import { ErrorNotice, Loading, Note } from '../../components/notice';
import { formatTime } from '../../format';
import { useResource } from '../../hooks';
import { AdminPage, ago, ShortId, type Attempt, type Delivery, type Endpoint, type Page } from './common';

const PAGE = 25;

const STATE_TEXT: Record<Delivery['state'], string> = {
  pending: 'pending',
  sending: 'sending',
  delivered: 'delivered',
  given_up: 'given up',
};

export function WebhookPage() {
  const { params } = useRoute();
  const id = params.id;
  const endpoint = useResource<Endpoint>(`/v1/webhooks/${id}`);
  // The cursors of the pages before the one shown (empty: the newest page).
  const [cursors, setCursors] = useState<string[]>([]);
  const after = cursors[cursors.length - 1];
  const deliveries = useResource<Page<Delivery>>(withQuery(`/v1/webhooks/${id}/deliveries`, { limit: PAGE, after }), 5000);
  const [open, setOpen] = useState<string | null>(null);
  const [said, setSaid] = useState('');
  const [error, setError] = useState<unknown>();
  const [sending, setSending] = useState<string | null>(null);
  const items = deliveries.data?.items ?? [];

  const redeliver = async (delivery: Delivery) => {
    setError(undefined);
    setSending(delivery.id);
    try {
      const queued = await post<Delivery>(`/v1/webhooks/${id}/deliveries/${delivery.id}/redeliver`, undefined, {
        headers: { 'Idempotency-Key': idempotencyKey() },
      });
      setSaid(
        queued.id === delivery.id
          ? `Delivery of ${delivery.event_type} made due now.`
          : `Sending ${delivery.event_type} again as a new delivery.`,
      );
      setCursors([]);
      deliveries.reload();
    } catch (e) {
      setError(e);
    } finally {
      setSending(null);
    }
  };

  return (
    <AdminPage title="Delivery log" parent={{ href: '/admin/webhooks', name: 'Webhooks' }}>
      <ErrorNotice error={endpoint.error} title="Could not load the endpoint." />
      {endpoint.data && (
        <div class="card stack endpoint-facts">
          <p>
            <span class="muted">Endpoint </span>
            <span class="url">{endpoint.data.url}</span>
          </p>
          {endpoint.data.description && <p>{endpoint.data.description}</p>}
          <p class="muted">
            {endpoint.data.event_types ? `Sent: ${endpoint.data.event_types.join(', ')}` : 'Sent: every event'} · registered{' '}
            {formatTime(endpoint.data.created_at)}
          </p>
          {endpoint.data.disabled_at && <p class="warn-text">Stopped: the receiver answered 410 Gone on {formatTime(endpoint.data.disabled_at)}.</p>}
        </div>
      )}
      <h2>Deliveries</h2>
      <p class="muted">One per event sent (and per redelivery), newest first; refreshed every few seconds.</p>
      <p role="status" class="said">
        {said}
      </p>
      <ErrorNotice error={error} title="Could not redeliver." />
      <ErrorNotice error={deliveries.error} title="Could not load the deliveries." />
      {deliveries.loading && !deliveries.data && <Loading label="Loading deliveries…" />}
      {deliveries.data && items.length === 0 && (
        <p>
          Nothing has been sent to this endpoint yet. Deliveries appear when an event it receives happens; to send one now, redeliver an event from{' '}
          <a href="/admin/events">the events</a>.
        </p>
      )}
      {items.length > 0 && (
        <div class="table-scroll">
          <table class="stacked" aria-label="Deliveries">
            <thead>
              <tr>
                <th scope="col">Event</th>
                <th scope="col">State</th>
                <th scope="col">Attempts</th>
                <th scope="col">Answer</th>
                <th scope="col">Time</th>
                <th scope="col">
                  <span class="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {items.map((delivery) => (
                <Fragment key={delivery.id}>
                  <tr>
                    <td data-label="Event">
                      {delivery.event_type} <ShortId id={delivery.event_id} />
                    </td>
                    <td data-label="State">
                      <span class={`badge state-${delivery.state}`}>{STATE_TEXT[delivery.state]}</span>
                    </td>
                    <td data-label="Attempts">{delivery.attempts}</td>
                    <td data-label="Answer">
                      {delivery.last_status_code != null ? `HTTP ${delivery.last_status_code}` : (delivery.last_error ?? '—')}
                    </td>
                    <td data-label="Time">
                      <span title={formatTime(delivery.created_at)}>{ago(delivery.last_attempt_at ?? delivery.created_at)}</span>
                      {delivery.state === 'pending' && delivery.next_attempt_at && (
                        <span class="muted"> · next {formatTime(delivery.next_attempt_at)}</span>
                      )}
                    </td>
                    <td data-label="Actions">
                      <div class="row">
                        <button
                          type="button"
                          class="secondary"
                          aria-expanded={open === delivery.id}
                          aria-controls={`detail-${delivery.id}`}
                          onClick={() => setOpen(open === delivery.id ? null : delivery.id)}
                        >
                          {open === delivery.id ? 'Hide' : 'Details'}
                        </button>
                        <button type="button" class="secondary" disabled={sending === delivery.id} onClick={() => void redeliver(delivery)}>
                          Redeliver
                        </button>
                      </div>
                    </td>
                  </tr>
                  {open === delivery.id && (
                    <tr class="detail-row">
                      <td colSpan={6} id={`detail-${delivery.id}`}>
                        <DeliveryDetail endpointId={id} delivery={delivery} />
                      </td>
                    </tr>
                  )}
                </Fragment>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <div class="row">
        {cursors.length > 0 && (
          <button type="button" class="secondary" onClick={() => setCursors(cursors.slice(0, -1))}>
            Newer deliveries
          </button>
        )}
        {deliveries.data?.next_cursor && (
          <button type="button" class="secondary" onClick={() => setCursors([...cursors, deliveries.data!.next_cursor!])}>
            Older deliveries
          </button>
        )}
      </div>
    </AdminPage>
  );
}

function DeliveryDetail({ endpointId, delivery }: { endpointId: string; delivery: Delivery }) {
  const detail = useResource<{ delivery: Delivery; attempts: Attempt[] }>(`/v1/webhooks/${endpointId}/deliveries/${delivery.id}`, 5000);
  const [event, setEvent] = useState<unknown>();
  return (
    <div class="stack delivery-detail">
      <h3>Delivery {delivery.id}</h3>
      <p>
        Event <code>{delivery.event_id}</code> ({delivery.event_type}), sent with it as <code>webhook-id</code>. Made {formatTime(delivery.created_at)}
        {delivery.delivered_at ? `; delivered ${formatTime(delivery.delivered_at)}` : ''}
        {delivery.given_up_at ? `; given up ${formatTime(delivery.given_up_at)}` : ''}.
      </p>
      <ErrorNotice error={detail.error} title="Could not load the attempts." />
      {detail.loading && !detail.data && <Loading label="Loading attempts…" />}
      {detail.data && detail.data.attempts.length === 0 && <p>No attempt yet: it is due {delivery.next_attempt_at ? formatTime(delivery.next_attempt_at) : 'shortly'}.</p>}
      {detail.data && detail.data.attempts.length > 0 && (
        <ol class="attempts" aria-label="Attempts">
          {detail.data.attempts.map((attempt) => (
            <li>
              Attempt {attempt.attempt}, {formatTime(attempt.attempted_at)}: {attempt.status_code != null ? `answered HTTP ${attempt.status_code}` : `no answer (${attempt.error ?? 'unknown'})`} in {attempt.duration_ms} ms
              {attempt.status_code != null && attempt.error ? ` — ${attempt.error}` : ''}
            </li>
          ))}
        </ol>
      )}
      <Note>
        The request and response bodies are not shown: the API keeps only each attempt's status code or error. The
        request body is the event below.
      </Note>
      <div>
        {event === undefined ? (
          <button
            type="button"
            class="secondary"
            onClick={async () => {
              setEvent(null);
              setEvent(await findEvent(delivery.event_id).catch((e: unknown) => ({ error: String(e) })));
            }}
          >
            Show the event
          </button>
        ) : event === null ? (
          <Loading label="Looking for the event…" />
        ) : (
          <pre class="json" tabIndex={0} aria-label="The event">
            {JSON.stringify(event, null, 2)}
          </pre>
        )}
      </div>
    </div>
  );
}

/** The event with `id`, read through the events list (the API has no GET /v1/events/{id}). */
async function findEvent(id: string): Promise<unknown> {
  let after = 0;
  for (;;) {
    const page = await get<{ events: { id: string; seq: number }[]; cursor: number }>(withQuery('/v1/events', { after, limit: 1000 }));
    const found = page.events.find((e) => e.id === id);
    if (found) return found;
    if (page.events.length < 1000) return { error: 'the event is no longer in the events list' };
    after = page.cursor;
  }
}
