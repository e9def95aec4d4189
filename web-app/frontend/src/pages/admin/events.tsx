// /admin/events: everything that happened to assets, newest page first (the API reads events forward from a
// cursor, so the page walks to the end first), each event's data, and sending one again to every endpoint that
// receives it.

import { useCallback, useEffect, useState } from 'preact/hooks';
import { get, idempotencyKey, post, withQuery } from '../../api';
import { ErrorNotice, Loading } from '../../components/notice';
import { formatTime } from '../../format';
import { AdminPage, ago, ShortId, type Delivery, type EventItem } from './common';

const PAGE = 25;
const REFRESH_MS = 5000;

interface EventPage {
  events: EventItem[];
  cursor: number;
}

export function EventsPage() {
  // The events shown are those after `from` (seq), PAGE of them; null until the newest page is found.
  const [from, setFrom] = useState<number | null>(null);
  const [page, setPage] = useState<EventPage | null>(null);
  const [last, setLast] = useState(0);
  const [error, setError] = useState<unknown>();
  const [loading, setLoading] = useState(true);
  const [said, setSaid] = useState('');

  /** Finds the seq of the newest event (walking the list forward, 1 000 at a time). */
  const newest = useCallback(async () => {
    let after = 0;
    for (;;) {
      const chunk = await get<EventPage>(withQuery('/v1/events', { after, limit: 1000 }));
      after = chunk.cursor;
      if (chunk.events.length < 1000) return after;
    }
  }, []);

  const showNewest = useCallback(async () => {
    setLoading(true);
    setError(undefined);
    try {
      const end = await newest();
      setLast(end);
      setFrom(Math.max(0, end - PAGE));
    } catch (e) {
      setError(e);
      setLoading(false);
    }
  }, [newest]);

  useEffect(() => {
    void showNewest();
  }, [showNewest]);

  useEffect(() => {
    if (from === null) return;
    const controller = new AbortController();
    setLoading(true);
    get<EventPage>(withQuery('/v1/events', { after: from, limit: PAGE }), { signal: controller.signal })
      .then((value) => {
        setPage(value);
        setLast((l) => Math.max(l, value.cursor));
        setError(undefined);
      })
      .catch((e) => {
        if (!controller.signal.aborted) setError(e);
      })
      .finally(() => {
        if (!controller.signal.aborted) setLoading(false);
      });
    return () => controller.abort();
  }, [from]);

  // On the newest page, look for newer events every few seconds (while the page is visible) and show them.
  const onNewest = from !== null && from + PAGE >= last;
  useEffect(() => {
    if (!onNewest) return;
    const timer = setInterval(async () => {
      if (document.visibilityState !== 'visible') return;
      try {
        const newer = await get<EventPage>(withQuery('/v1/events', { after: last, limit: 1000 }));
        if (newer.events.length > 0 && newer.events.length < 1000) {
          setLast(newer.cursor);
          setFrom(Math.max(0, newer.cursor - PAGE));
        }
      } catch {
        // The next try, or the Newest button, will say what is wrong.
      }
    }, REFRESH_MS);
    return () => clearInterval(timer);
  }, [onNewest, last]);

  const [sending, setSending] = useState<string | null>(null);
  const redeliver = async (event: EventItem) => {
    setError(undefined);
    setSending(event.id);
    try {
      const queued = await post<{ items: Delivery[] }>(`/v1/events/${event.id}/redeliver`, undefined, {
        headers: { 'Idempotency-Key': idempotencyKey() },
      });
      const n = queued.items.length;
      setSaid(
        n === 0
          ? `No endpoint receives ${event.type}: nothing was sent.`
          : `Sending event ${event.seq} (${event.type}) again to ${n} endpoint${n === 1 ? '' : 's'}.`,
      );
    } catch (e) {
      setError(e);
    } finally {
      setSending(null);
    }
  };

  const events = [...(page?.events ?? [])].reverse();
  return (
    <AdminPage title="Events">
      <p>
        What happened to assets, newest first (new ones appear on their own). Sending an event again queues a new delivery to every{' '}
        <a href="/admin/webhooks">webhook endpoint</a> that receives its type.
      </p>
      <p role="status" class="said">
        {said}
      </p>
      <ErrorNotice error={error} title="Something went wrong." />
      {loading && !page && <Loading label="Loading events…" />}
      {page && events.length === 0 && <p>No event yet. Events appear when assets are uploaded, transcoded or deleted.</p>}
      {events.length > 0 && (
        <ul class="admin-list" role="list" aria-label="Events">
          {events.map((event) => (
            <li class="card admin-item" key={event.id}>
              <div class="admin-item-head">
                <strong>{event.type}</strong>
                <span class="muted">#{event.seq}</span>
                <span class="muted" title={formatTime(event.created_at)}>
                  {ago(event.created_at)}
                </span>
              </div>
              <p class="muted">
                <span class="event-id">
                  Event <ShortId id={event.id} />
                </span>
                {event.asset_id && (
                  <>
                    {' · '}asset <ShortId id={event.asset_id} />
                  </>
                )}
              </p>
              <div class="row event-actions">
                <details>
                  <summary>Data sent with it</summary>
                  <pre class="json" tabIndex={0}>
                    {JSON.stringify(event.data, null, 2)}
                  </pre>
                </details>
                <button type="button" class="secondary" aria-label={`Send again: event ${event.seq}`} disabled={sending === event.id} onClick={() => void redeliver(event)}>
                  Send again
                </button>
              </div>
            </li>
          ))}
        </ul>
      )}
      {from !== null && (
        <div class="row">
          <button type="button" class="secondary" disabled={loading} onClick={() => void showNewest()}>
            Newest
          </button>
          {from + PAGE < last && (
            <button type="button" class="secondary" disabled={loading} onClick={() => setFrom(from + PAGE)}>
              Newer events
            </button>
          )}
          {from > 0 && (
            <button type="button" class="secondary" disabled={loading} onClick={() => setFrom(Math.max(0, from - PAGE))}>
              Older events
            </button>
          )}
        </div>
      )}
    </AdminPage>
  );
}
