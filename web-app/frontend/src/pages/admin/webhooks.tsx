// /admin/webhooks: the endpoints events are sent to (everyone's); register one (its signing secret is shown
// this once, with a copy button), open its delivery log, remove one.

import { useState } from 'preact/hooks';
import { del, idempotencyKey, post } from '../../api';
import { ConfirmButton } from '../../components/confirm-dialog';
import { CopyButton } from '../../components/copy-button';
import { Field } from '../../components/field';
import { ErrorNotice, Loading } from '../../components/notice';
import { formatTime } from '../../format';
import { useResource } from '../../hooks';
import { AdminPage, EVENT_TYPES, type Endpoint } from './common';

interface Created extends Endpoint {
  secret: string;
}

export function WebhooksPage() {
  const endpoints = useResource<{ items: Endpoint[] }>('/v1/webhooks');
  const [created, setCreated] = useState<Created | null>(null);
  const [said, setSaid] = useState('');
  const items = endpoints.data?.items ?? [];
  return (
    <AdminPage title="Webhooks">
      <p>
        Each endpoint receives the events it asks for as signed POSTs (Standard Webhooks). See also <a href="/admin/events">every event</a>.
      </p>
      {created ? (
        <section class="card stack secret-card" aria-labelledby="secret-heading">
          <h2 id="secret-heading">Signing secret for {created.url}</h2>
          <p>
            <strong>Shown this once:</strong> copy it now into the receiver, which checks each delivery's{' '}
            <code>webhook-signature</code> with it. It cannot be shown again; to change it, remove the endpoint and register it anew.
          </p>
          <div class="field">
            <label for="webhook-secret">Signing secret</label>
            <div class="row">
              <input
                id="webhook-secret"
                class="secret"
                readOnly
                value={created.secret}
                size={created.secret.length}
                onFocus={(e) => e.currentTarget.select()}
              />
              <CopyButton text={created.secret} label="Copy secret" />
            </div>
          </div>
          <div>
            <button type="button" class="secondary" onClick={() => setCreated(null)}>
              I have saved it
            </button>
          </div>
        </section>
      ) : (
        <NewEndpoint
          onCreated={(endpoint) => {
            setCreated(endpoint);
            endpoints.reload();
          }}
        />
      )}

      <h2>Endpoints</h2>
      <p role="status" class="said">
        {said}
      </p>
      <ErrorNotice error={endpoints.error} title="Could not load the endpoints." />
      {endpoints.loading && !endpoints.data && <Loading label="Loading endpoints…" />}
      {endpoints.data && items.length === 0 && <p>No endpoint yet: register one above to have events sent to it.</p>}
      <ul class="admin-list" role="list" aria-label="Endpoints">
        {items.map((endpoint) => (
          <li class="card admin-item">
            <div class="admin-item-head">
              <a href={`/admin/webhooks/${endpoint.id}`} class="url">
                {endpoint.url}
              </a>
              {endpoint.disabled_at && <span class="badge badge-warn">stopped</span>}
            </div>
            {endpoint.description && <p>{endpoint.description}</p>}
            <p class="muted">
              {endpoint.event_types ? `Sent: ${endpoint.event_types.join(', ')}` : 'Sent: every event'} · registered{' '}
              {formatTime(endpoint.created_at)}
            </p>
            {endpoint.disabled_at && (
              <p class="warn-text">
                Nothing is sent any more: the receiver answered 410 Gone on {formatTime(endpoint.disabled_at)}. Register it again to resume.
              </p>
            )}
            <div class="row">
              <a class="button secondary" href={`/admin/webhooks/${endpoint.id}`} aria-label={`Delivery log of ${endpoint.url}`}>
                Delivery log
              </a>
              <ConfirmButton
                label="Remove"
                ariaLabel={`Remove ${endpoint.url}`}
                title={`Remove ${endpoint.url}?`}
                danger
                onConfirm={async () => {
                  await del(`/v1/webhooks/${endpoint.id}`, { headers: { 'Idempotency-Key': idempotencyKey() } });
                  setSaid(`Removed ${endpoint.url}.`);
                  endpoints.reload();
                }}
              >
                <p>Nothing more is sent to it, and its delivery log is deleted with it.</p>
              </ConfirmButton>
            </div>
          </li>
        ))}
      </ul>
    </AdminPage>
  );
}

function NewEndpoint({ onCreated }: { onCreated(endpoint: Created): void }) {
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const submit = async (event: Event) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget as HTMLFormElement);
    const types = form.getAll('event_types').map(String);
    const description = String(form.get('description')).trim();
    setBusy(true);
    setError(undefined);
    try {
      const endpoint = await post<Created>(
        '/v1/webhooks',
        { url: String(form.get('url')).trim(), description: description || null, event_types: types.length > 0 ? types : null },
        { headers: { 'Idempotency-Key': idempotencyKey() } },
      );
      onCreated(endpoint);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="card stack" onSubmit={submit} aria-labelledby="new-endpoint-heading" aria-busy={busy}>
      <h2 id="new-endpoint-heading">New endpoint</h2>
      <ErrorNotice error={error} title="Could not register the endpoint." />
      <Field id="endpoint-url" label="URL" name="url" type="url" required placeholder="https://example.com/marquee-events" hint="An http or https URL; redirects are not followed." />
      <Field id="endpoint-description" label="Description (optional)" name="description" />
      <fieldset class="field">
        <legend>Events to send</legend>
        <div class="checks">
          {EVENT_TYPES.map((type) => (
            <label class="choice">
              <input type="checkbox" name="event_types" value={type} /> {type}
            </label>
          ))}
        </div>
        <small class="hint">None ticked: every event, including types added later.</small>
      </fieldset>
      <div>
        <button type="submit" disabled={busy}>
          {busy ? 'Registering…' : 'Register endpoint'}
        </button>
      </div>
    </form>
  );
}
