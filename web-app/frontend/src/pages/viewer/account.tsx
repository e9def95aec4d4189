// The viewer's account: who they are, their subscriptions (cancel, with a confirmation; a new card for a past-due
// one), rentals with the time left, and orders.

import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { ApiError, idempotencyKey, post, put } from '../../api';
import { RequireRole } from '../../components/layout';
import { ErrorNotice, Loading } from '../../components/notice';
import { formatTime } from '../../format';
import { useResource, useTitle } from '../../hooks';
import { useSession } from '../../session';
import { CardChoice, failureText } from './checkout';
import { formatDate, planPrice, price, timeLeft, useTitles } from './common';
import type { Order, OrderState, Page, Plan, Rental, Subscription, Title } from './types';

const STATE_WORDS: Record<Subscription['state'], string> = {
  trialing: 'Free trial',
  active: 'Active',
  past_due: 'Payment due',
  canceled: 'Canceled',
  expired: 'Ended',
};

const ORDER_WORDS: Record<OrderState, string> = {
  created: 'Started',
  paying: 'Paying',
  pending: 'Waiting for the bank',
  fulfilled: 'Paid',
  failed: 'Failed',
  refunded: 'Refunded',
};

function subscriptionDates(s: Subscription): string {
  if (s.state === 'canceled' || s.state === 'expired') return s.ended_at ? `Ended on ${formatDate(s.ended_at)}.` : 'Ended.';
  if (s.state === 'past_due') {
    return `The last renewal could not be charged. Give it a card that pays${s.grace_until ? ` before ${formatDate(s.grace_until)}` : ''}, or it is canceled.`;
  }
  if (s.cancel_at_period_end) return `Canceled: you can watch until ${formatDate(s.current_period_end)}, and it does not renew.`;
  if (s.state === 'trialing') return `Free until ${formatDate(s.current_period_end)}, then it renews.`;
  return `Renews on ${formatDate(s.current_period_end)}.`;
}

function NewCard({ subscription, onDone }: { subscription: Subscription; onDone(): void }) {
  const [token, setToken] = useState('tok_approve');
  const [error, setError] = useState<unknown>();
  const [result, setResult] = useState<string>();
  const [busy, setBusy] = useState(false);
  const attempt = useRef<{ key: string; token: string } | null>(null);
  const submit = async (event: Event) => {
    event.preventDefault();
    if (attempt.current?.token !== token) attempt.current = { key: idempotencyKey(), token };
    setBusy(true);
    setError(undefined);
    setResult(undefined);
    try {
      const after = await put<Subscription>(
        `/v1/subscriptions/${encodeURIComponent(subscription.id)}/payment-method`,
        { payment_token: token },
        { headers: { 'Idempotency-Key': attempt.current.key } },
      );
      attempt.current = null;
      if (after.state === 'past_due') setResult(failureText('card_declined'));
      else {
        setResult(after.state === 'active' ? 'The new card paid the renewal: the subscription is active again.' : 'The card is saved.');
        onDone();
      }
    } catch (e) {
      if (!(e instanceof ApiError && (e.status === 0 || e.status >= 500))) attempt.current = null;
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="stack" onSubmit={submit} aria-busy={busy}>
      <CardChoice name={`new-card-${subscription.id}`} forPlan value={token} onChange={setToken} focus />
      <ErrorNotice error={error} title="The card could not be changed." />
      {result && (
        <p class="notice" role="status">
          {result}
        </p>
      )}
      <div>
        <button type="submit" disabled={busy}>
          {busy ? 'Charging…' : 'Use this card'}
        </button>
      </div>
    </form>
  );
}

function SubscriptionItem({ subscription, plan, onChange }: { subscription: Subscription; plan?: Plan; onChange(): void }) {
  const [confirming, setConfirming] = useState(false);
  const [changingCard, setChangingCard] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const ended = subscription.state === 'canceled' || subscription.state === 'expired';
  const name = plan?.name ?? 'A plan no longer sold';
  const cancel = async (atPeriodEnd: boolean) => {
    setBusy(true);
    setError(undefined);
    try {
      await post(`/v1/subscriptions/${encodeURIComponent(subscription.id)}/cancel${atPeriodEnd ? '?at_period_end=true' : ''}`, undefined, {
        headers: { 'Idempotency-Key': idempotencyKey() },
      });
      setConfirming(false);
      onChange();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  const confirmId = `cancel-${subscription.id}`;
  // The confirmation takes the place of the button that asked for it: the keyboard lands on its safe choice.
  const keep = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    if (confirming) keep.current?.focus();
  }, [confirming]);
  return (
    <li class="card stack subscription">
      <div class="row spread">
        <h3>{name}</h3>
        <span class={`badge state-${subscription.state}`}>{STATE_WORDS[subscription.state]}</span>
      </div>
      {plan && <p class="muted">{planPrice(plan)}</p>}
      <p>{subscriptionDates(subscription)}</p>
      <ErrorNotice error={error} title="The subscription could not be canceled." />
      {subscription.state === 'past_due' && (
        <div>
          <button type="button" class="secondary" aria-expanded={changingCard} onClick={() => setChangingCard(!changingCard)}>
            {changingCard ? 'Close' : 'Change the card'}
          </button>
          {changingCard && <NewCard subscription={subscription} onDone={onChange} />}
        </div>
      )}
      {!ended && !subscription.cancel_at_period_end && !confirming && (
        <div>
          <button type="button" class="secondary" aria-expanded={false} aria-controls={confirmId} onClick={() => setConfirming(true)}>
            Cancel subscription
          </button>
        </div>
      )}
      {!ended && subscription.cancel_at_period_end && !confirming && (
        <div>
          <button type="button" class="secondary" onClick={() => setConfirming(true)}>
            End it now instead
          </button>
        </div>
      )}
      {confirming && (
        <div id={confirmId} class="confirm stack" role="group" aria-label={`Cancel ${name}?`}>
          <p>
            <strong>Cancel {name}?</strong>{' '}
            {subscription.cancel_at_period_end
              ? 'Ending it now stops playback at once; nothing is refunded.'
              : `At the end of the period you keep watching until ${formatDate(subscription.current_period_end)}; canceling now stops playback at once. Nothing is refunded.`}
          </p>
          <div class="row">
            {!subscription.cancel_at_period_end && (
              <button type="button" class="secondary" disabled={busy} onClick={() => cancel(true)}>
                Cancel at the end of the period
              </button>
            )}
            <button type="button" class="danger" disabled={busy} onClick={() => cancel(false)}>
              Cancel now
            </button>
            <button type="button" class="secondary" disabled={busy} onClick={() => setConfirming(false)} ref={keep}>
              Keep it
            </button>
          </div>
        </div>
      )}
    </li>
  );
}

function rentalText(rental: Rental): string {
  const now = Date.now();
  if (rental.first_played_at) {
    return rental.plays_until > now ? `${timeLeft(rental.plays_until)} left to watch` : `Ended on ${formatDate(rental.plays_until)}`;
  }
  if (rental.expires_unplayed_at <= now) return `Expired unwatched on ${formatDate(rental.expires_unplayed_at)}`;
  return `Not started: plays for ${timeLeft(now + rental.watch_window_ms)} once you press Play; start by ${formatDate(rental.expires_unplayed_at)}`;
}

function orderWhat(order: Order, plans: Plan[], titles: Map<string, Title>): string {
  if (order.kind === 'subscription') return `Subscription: ${plans.find((p) => p.id === order.plan_id)?.name ?? 'a plan no longer sold'}`;
  const title = order.title_id ? titles.get(order.title_id)?.title : undefined;
  return `${order.kind === 'rental' ? 'Rental' : 'Purchase'}: ${title ?? 'a title no longer available'}`;
}

function AccountContent() {
  useTitle('Your account');
  const { user } = useSession();
  const plans = useResource<Plan[]>('/v1/plans');
  const subscriptions = useResource<Page<Subscription>>('/v1/subscriptions?limit=200');
  const rentals = useResource<Page<Rental>>('/v1/rentals?limit=200');
  const orders = useResource<Page<Order>>('/v1/orders?limit=200');
  const titleIds = useMemo(() => {
    if (!rentals.data || !orders.data) return undefined;
    const ids = new Set<string>();
    rentals.data.items.forEach((r) => ids.add(r.title_id));
    orders.data.items.forEach((o) => o.title_id && ids.add(o.title_id));
    return [...ids];
  }, [rentals.data, orders.data]);
  const titleList = useTitles(titleIds);
  const titles = useMemo(() => new Map((titleList ?? []).map((t) => [t.id, t])), [titleList]);
  if (!user) return null;
  const reload = () => {
    subscriptions.reload();
    orders.reload();
  };
  // Newest first: what a viewer looks for is what they did last.
  const subs = [...(subscriptions.data?.items ?? [])].reverse();
  const rentalList = [...(rentals.data?.items ?? [])].reverse();
  const orderList = [...(orders.data?.items ?? [])].reverse();

  return (
    <section class="page stack account-page">
      <h1>Your account</h1>
      <dl class="facts">
        <dt>Email</dt>
        <dd>{user.email}</dd>
        <dt>Role</dt>
        <dd>{user.role}</dd>
        <dt>Member since</dt>
        <dd>{formatDate(user.created_at)}</dd>
      </dl>

      <section aria-labelledby="subscriptions" class="stack">
        <h2 id="subscriptions">Subscriptions</h2>
        <ErrorNotice error={subscriptions.error} title="Your subscriptions could not be loaded." />
        {subscriptions.loading && !subscriptions.data && <Loading />}
        {subscriptions.data && subs.length === 0 && (
          <p>
            You have no subscription. <a href="/plans">See the plans</a>.
          </p>
        )}
        {subs.length > 0 && (
          <ul class="plain-list stack">
            {subs.map((s) => (
              <SubscriptionItem key={s.id} subscription={s} plan={plans.data?.find((p) => p.id === s.plan_id)} onChange={reload} />
            ))}
          </ul>
        )}
      </section>

      <section aria-labelledby="rentals" class="stack">
        <h2 id="rentals">Rentals</h2>
        <ErrorNotice error={rentals.error} title="Your rentals could not be loaded." />
        {rentals.loading && !rentals.data && <Loading />}
        {rentals.data && rentalList.length === 0 && <p>No rentals. Titles for rent say so on their pages.</p>}
        {rentalList.length > 0 && (
          <ul class="plain-list">
            {rentalList.map((rental) => (
              <li key={rental.id} class="rental">
                <a href={`/titles/${encodeURIComponent(rental.title_id)}`}>{titles.get(rental.title_id)?.title ?? 'A title'}</a>
                <span class="muted"> {rentalText(rental)}</span>
              </li>
            ))}
          </ul>
        )}
      </section>

      <section aria-labelledby="orders" class="stack">
        <h2 id="orders">Orders</h2>
        <ErrorNotice error={orders.error} title="Your orders could not be loaded." />
        {orders.loading && !orders.data && <Loading />}
        {orders.data && orderList.length === 0 && <p>No orders yet.</p>}
        {orderList.length > 0 && (
          <div class="table-scroll" tabIndex={0} role="region" aria-label="Order list">
            <table>
              <thead>
                <tr>
                  <th scope="col">Date</th>
                  <th scope="col">What</th>
                  <th scope="col">Price</th>
                  <th scope="col">State</th>
                </tr>
              </thead>
              <tbody>
                {orderList.map((order) => (
                  <tr key={order.id}>
                    <td>{formatTime(order.created_at)}</td>
                    <td>{orderWhat(order, plans.data ?? [], titles)}</td>
                    <td>{price(order.price)}</td>
                    <td>
                      {ORDER_WORDS[order.state]}
                      {order.state === 'failed' && order.failure_code && <span class="muted small"> ({order.failure_code.replace(/_/g, ' ')})</span>}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
    </section>
  );
}

export function Account() {
  return (
    <RequireRole role="viewer">
      <AccountContent />
    </RequireRole>
  );
}
