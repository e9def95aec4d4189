// Paying for a plan or an offer with the built-in test payment provider: pick a test card, one POST /v1/orders per
// attempt under one Idempotency-Key (kept when the attempt is retried after a network or provider failure, so
// nothing is charged twice), and each outcome said in words: paid, declined, or waiting for the bank.

import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, get, idempotencyKey, post } from '../../api';
import { ErrorNotice, Note } from '../../components/notice';
import { useUnmounted } from '../../hooks';
import type { Order } from './types';

/** The test provider's cards: tokens it decides by (see the `NewOrder` schema). */
export const TEST_CARDS = [
  { token: 'tok_approve', label: 'Test card that pays', hint: 'Approved at once.' },
  { token: 'tok_decline', label: 'Test card that is declined', hint: 'The bank refuses it.' },
  { token: 'tok_async', label: 'Test card the bank confirms later', hint: 'The order waits for the bank.' },
  {
    token: 'tok_renewal_fails',
    label: 'Test card that pays now but not at renewal',
    hint: 'Subscriptions fall past due at their first renewal.',
    plansOnly: true,
  },
] as const;

const POLL_MS = 2000;

/** Why an order failed, in words. */
export function failureText(code: string | null | undefined): string {
  switch (code) {
    case 'card_declined':
      return 'Your card was declined, and nothing was charged. Choose another card and try again.';
    case 'overlapping_subscription':
      return 'You already have a subscription that covers these titles, so nothing was charged.';
    default:
      return `The payment did not go through${code ? ` (${code.replace(/_/g, ' ')})` : ''}, and nothing was charged. Try again or use another card.`;
  }
}

/** The card choice: radio buttons in a fieldset, the first one chosen. */
export function CardChoice({
  name,
  forPlan,
  value,
  onChange,
  focus = false,
}: {
  name: string;
  forPlan: boolean;
  value: string;
  onChange(token: string): void;
  /** Put the keyboard focus on the chosen card when it appears (it replaces the button that opened it). */
  focus?: boolean;
}) {
  const group = useRef<HTMLFieldSetElement>(null);
  useEffect(() => {
    if (focus) group.current?.querySelector<HTMLInputElement>('input:checked')?.focus();
  }, []);
  return (
    <fieldset class="card-choice" ref={group}>
      <legend>Card</legend>
      <p class="muted small">Payments go to the test provider: no money moves.</p>
      {TEST_CARDS.filter((card) => forPlan || !('plansOnly' in card)).map((card) => (
        <label class="radio" key={card.token}>
          <input type="radio" name={name} value={card.token} checked={value === card.token} onChange={() => onChange(card.token)} />
          <span>
            {card.label} <span class="muted small">{card.hint}</span>
          </span>
        </label>
      ))}
    </fieldset>
  );
}

type Outcome =
  | { kind: 'idle' }
  | { kind: 'paying' }
  | { kind: 'pending'; order: Order }
  | { kind: 'failed'; order: Order }
  | { kind: 'error'; error: unknown }
  | { kind: 'done'; order: Order };

export interface CheckoutProps {
  /** What is bought: a plan or an offer. */
  item: { plan_id: string } | { offer_id: string };
  /** The pay button's words, e.g. "Subscribe for 9,99 € a month". */
  action: string;
  /** Called once the order is fulfilled. */
  onPaid(order: Order): void;
  /** Words shown once paid (before `onPaid` moves on, or for good if it does not). */
  paidText: string;
  /** Focus the card choice when the form appears. */
  focus?: boolean;
}

export function Checkout({ item, action, onPaid, paidText, focus }: CheckoutProps) {
  const forPlan = 'plan_id' in item;
  const formName = `card-${forPlan ? item.plan_id : item.offer_id}`;
  const [token, setToken] = useState<string>('tok_approve');
  const [outcome, setOutcome] = useState<Outcome>({ kind: 'idle' });
  // One key per checkout attempt: the same body retried after a failure that may not have reached the
  // provider keeps it; a new card (a new body) or a settled answer starts a new attempt.
  const attempt = useRef<{ key: string; body: string } | null>(null);
  const unmounted = useUnmounted();
  const onPaidRef = useRef(onPaid);
  onPaidRef.current = onPaid;

  const settle = (order: Order) => {
    if (order.state === 'fulfilled') {
      attempt.current = null;
      setOutcome({ kind: 'done', order });
      onPaidRef.current(order);
    } else if (order.state === 'failed' || order.state === 'refunded') {
      attempt.current = null;
      setOutcome({ kind: 'failed', order });
    } else {
      setOutcome({ kind: 'pending', order });
    }
  };

  // An order waiting for the bank: ask again every few seconds until it settles.
  const pendingId = outcome.kind === 'pending' ? outcome.order.id : null;
  useEffect(() => {
    if (!pendingId) return;
    const timer = setInterval(async () => {
      try {
        const order = await get<Order>(`/v1/orders/${encodeURIComponent(pendingId)}`);
        if (!unmounted.current && order.state !== 'pending' && order.state !== 'paying' && order.state !== 'created') settle(order);
      } catch {
        // Ask again at the next tick; the order is safe either way.
      }
    }, POLL_MS);
    return () => clearInterval(timer);
  }, [pendingId]);

  const submit = async (event: Event) => {
    event.preventDefault();
    const request = { ...item, payment_token: token };
    const body = JSON.stringify(request);
    if (attempt.current?.body !== body) attempt.current = { key: idempotencyKey(), body };
    setOutcome({ kind: 'paying' });
    try {
      const order = await post<Order>('/v1/orders', request, { headers: { 'Idempotency-Key': attempt.current.key } });
      if (!unmounted.current) settle(order);
    } catch (e) {
      // Unreachable or a provider failure: the retry keeps the key; a refusal ends the attempt.
      if (!(e instanceof ApiError && (e.status === 0 || e.status >= 500 || e.code === 'conflict'))) attempt.current = null;
      if (!unmounted.current) setOutcome({ kind: 'error', error: e });
    }
  };

  const busy = outcome.kind === 'paying' || outcome.kind === 'pending';
  if (outcome.kind === 'done') {
    return (
      <div class="notice notice-ok" role="status">
        {paidText}
      </div>
    );
  }
  return (
    <form class="stack checkout" onSubmit={submit} aria-busy={busy}>
      <CardChoice name={formName} forPlan={forPlan} value={token} onChange={setToken} focus={focus} />
      {outcome.kind === 'failed' && (
        <div class="notice notice-error" role="alert">
          <strong>Payment declined. </strong>
          {failureText(outcome.order.failure_code)}
        </div>
      )}
      {outcome.kind === 'error' && (
        <ErrorNotice
          error={outcome.error}
          title={
            outcome.error instanceof ApiError && (outcome.error.status === 0 || outcome.error.status >= 500)
              ? 'The payment could not be made; trying again will not charge you twice.'
              : 'The payment could not be made.'
          }
        />
      )}
      {outcome.kind === 'pending' && (
        <Note>
          Waiting for your bank to confirm the payment. This page updates by itself when it does; you can also leave:
          the order is in your account.
        </Note>
      )}
      <div class="row">
        <button type="submit" disabled={busy}>
          {outcome.kind === 'paying' ? 'Paying…' : outcome.kind === 'error' ? `Try again: ${action.charAt(0).toLowerCase()}${action.slice(1)}` : action}
        </button>
      </div>
    </form>
  );
}
