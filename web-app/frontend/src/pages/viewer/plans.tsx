// The plans on sale, and subscribing to one with the test payment provider; once paid, back to where the viewer
// came from (?next=), or to the account.

import { useState } from 'preact/hooks';
import { useLocation } from 'preact-iso';
import { ErrorNotice, Loading } from '../../components/notice';
import { useResource, useTitle } from '../../hooks';
import { useSession } from '../../session';
import { Checkout } from './checkout';
import { formatDate, planPrice, subscriptionGrants, unlocksText } from './common';
import type { Page, Plan, Subscription } from './types';

/** The `next` query parameter when it is a path on this site. */
export function safeNext(next: string | undefined): string | null {
  return next && next.startsWith('/') && !next.startsWith('//') ? next : null;
}

function PlanCard({ plan, current, chosen, onChoose }: { plan: Plan; current?: Subscription; chosen: boolean; onChoose(): void }) {
  const { user } = useSession();
  const { query, route } = useLocation();
  const next = safeNext(query.next);
  return (
    <li class="card stack plan">
      <h2>{plan.name}</h2>
      <p class="plan-price">{planPrice(plan)}</p>
      <p>{unlocksText(plan)}.</p>
      {plan.trial_days > 0 && <p class="muted">The first {plan.trial_days} days are free.</p>}
      {current ? (
        <p class="held">
          You subscribe to this plan{current.cancel_at_period_end ? `, until ${formatDate(current.current_period_end)}` : ''}. <a href="/account">Manage it</a>
        </p>
      ) : !user ? (
        <a class="button" href={`/signup?next=${encodeURIComponent(`/plans?plan=${plan.id}${next ? `&next=${encodeURIComponent(next)}` : ''}`)}`}>
          Sign up to subscribe
        </a>
      ) : chosen ? (
        <Checkout
          item={{ plan_id: plan.id }}
          focus
          action={`Subscribe for ${planPrice(plan)}`}
          paidText={`Subscribed to ${plan.name}. ${next ? 'Taking you back…' : 'It is in your account.'}`}
          onPaid={() => {
            if (next) route(next);
          }}
        />
      ) : (
        <button type="button" onClick={onChoose}>
          Choose {plan.name}
        </button>
      )}
    </li>
  );
}

export function Plans() {
  useTitle('Plans');
  const { user, loading: sessionLoading } = useSession();
  const { query, url } = useLocation();
  // The plans on sale are public: a visitor compares prices before signing up.
  const plans = useResource<Plan[]>('/v1/plans');
  const subscriptions = useResource<Page<Subscription>>(user ? '/v1/subscriptions?limit=200' : null);
  const [chosen, setChosen] = useState<string | undefined>(query.plan);
  const onSale = (plans.data ?? []).filter((plan) => !plan.archived);
  const current = (planId: string) => subscriptions.data?.items.find((s) => s.plan_id === planId && subscriptionGrants(s));
  return (
    <section class="page stack">
      <h1>Plans</h1>
      <p class="muted">A subscription lets you watch what its plan includes for as long as it runs. Cancel at any time in your account.</p>
      {!user && !sessionLoading && (
        <p>
          <a href={`/signup?next=${encodeURIComponent(url)}`}>Create an account</a> to subscribe; already have one?{' '}
          <a href={`/signin?next=${encodeURIComponent(url)}`}>Sign in</a>.
        </p>
      )}
      <ErrorNotice error={plans.error} title="The plans could not be loaded." />
      {plans.loading && !plans.data && <Loading label="Loading the plans…" />}
      {plans.data && onSale.length === 0 && <p class="notice">No plan is on sale yet. Titles may still be rented or bought from their pages.</p>}
      {onSale.length > 0 && (
        <ul class="plans">
          {onSale.map((plan) => (
            <PlanCard key={plan.id} plan={plan} current={current(plan.id)} chosen={chosen === plan.id} onChoose={() => setChosen(plan.id)} />
          ))}
        </ul>
      )}
    </section>
  );
}
