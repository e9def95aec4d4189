// /admin/plans: the subscription plans (archived ones too); make one with its price typed in the currency's
// major units (sent in minor units), rename one or change its trial, archive one. A price never changes: a new
// price is a new plan, so subscribers keep what they agreed to.

import { useState } from 'preact/hooks';
import { del, idempotencyKey, patch, post } from '../../api';
import { ConfirmButton } from '../../components/confirm-dialog';
import { Field } from '../../components/field';
import { ErrorNotice, Loading } from '../../components/notice';
import { formatTime } from '../../format';
import { useResource } from '../../hooks';
import { AdminPage, formatPrice, minorDigits, toMinor, type Plan, type Unlocks } from './common';

const CURRENCIES = ['EUR', 'USD', 'GBP', 'CHF', 'JPY', 'CAD', 'AUD', 'SEK', 'NOK', 'DKK', 'PLN', 'INR', 'BRL'];

export function PlansPage() {
  const plans = useResource<Plan[]>('/v1/plans');
  const [said, setSaid] = useState('');
  const list = plans.data ?? [];
  const onSale = list.filter((p) => !p.archived);
  const archived = list.filter((p) => p.archived);
  return (
    <AdminPage title="Plans">
      <NewPlan
        onCreated={(plan) => {
          setSaid(`Made the plan “${plan.name}”: ${formatPrice(plan.price)} a ${plan.period}.`);
          plans.reload();
        }}
      />
      <p role="status" class="said">
        {said}
      </p>
      <h2>On sale</h2>
      <ErrorNotice error={plans.error} title="Could not load the plans." />
      {plans.loading && !plans.data && <Loading label="Loading plans…" />}
      {plans.data && onSale.length === 0 && <p>No plan is on sale: viewers cannot subscribe until you make one above.</p>}
      <ul class="admin-list" role="list" aria-label="Plans on sale">
        {onSale.map((plan) => (
          <PlanItem key={plan.id} plan={plan} onChanged={(text) => { setSaid(text); plans.reload(); }} />
        ))}
      </ul>
      {archived.length > 0 && (
        <>
          <h2>Archived</h2>
          <p class="muted">Not sold any more; their subscriptions go on.</p>
          <ul class="admin-list" role="list" aria-label="Archived plans">
            {archived.map((plan) => (
              <PlanItem key={plan.id} plan={plan} onChanged={(text) => { setSaid(text); plans.reload(); }} />
            ))}
          </ul>
        </>
      )}
    </AdminPage>
  );
}

function unlocksText(unlocks: Unlocks): string {
  return unlocks.kind === 'catalog' ? 'every title' : `titles tagged “${unlocks.tag}”`;
}

function NewPlan({ onCreated }: { onCreated(plan: Plan): void }) {
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const [currency, setCurrency] = useState('EUR');
  const [unlockKind, setUnlockKind] = useState<'catalog' | 'tag'>('catalog');
  const digits = /^[A-Z]{3}$/.test(currency) ? minorDigits(currency) : 2;

  const submit = async (event: Event) => {
    event.preventDefault();
    const formElement = event.currentTarget as HTMLFormElement;
    const form = new FormData(formElement);
    setError(undefined);
    const code = String(form.get('currency')).trim().toUpperCase();
    if (!/^[A-Z]{3}$/.test(code)) {
      setError(new Error('The currency must be a three-letter ISO 4217 code, such as EUR or USD.'));
      return;
    }
    const minor = toMinor(String(form.get('price')), code);
    if (typeof minor === 'string') {
      setError(new Error(minor));
      return;
    }
    const unlocks: Unlocks = unlockKind === 'catalog' ? { kind: 'catalog' } : { kind: 'tag', tag: String(form.get('tag')).trim() };
    setBusy(true);
    try {
      const plan = await post<Plan>(
        '/v1/plans',
        {
          name: String(form.get('name')).trim(),
          price: { amount_minor: minor, currency: code },
          period: String(form.get('period')),
          trial_days: Number(form.get('trial_days') || 0),
          unlocks,
        },
        { headers: { 'Idempotency-Key': idempotencyKey() } },
      );
      formElement.reset();
      setCurrency('EUR');
      setUnlockKind('catalog');
      onCreated(plan);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form class="card stack" onSubmit={submit} aria-labelledby="new-plan-heading" aria-busy={busy}>
      <h2 id="new-plan-heading">New plan</h2>
      <ErrorNotice error={error} title="Could not make the plan." />
      <div class="form-grid">
        <Field id="plan-name" label="Name" name="name" required maxLength={200} />
        <Field
          id="plan-price"
          label="Price"
          name="price"
          inputMode="decimal"
          required
          placeholder={digits === 0 ? '500' : (4.99).toFixed(digits)}
          hint={digits === 0 ? `In whole ${currency}.` : `In ${currency}, with up to ${digits} decimal places.`}
        />
        <div class="field">
          <label for="plan-currency">Currency</label>
          <input
            id="plan-currency"
            name="currency"
            list="plan-currencies"
            value={currency}
            onInput={(e) => setCurrency(e.currentTarget.value.toUpperCase())}
            pattern="[A-Za-z]{3}"
            maxLength={3}
            required
            aria-describedby="plan-currency-hint"
            autoComplete="off"
          />
          <datalist id="plan-currencies">
            {CURRENCIES.map((c) => (
              <option value={c} />
            ))}
          </datalist>
          <small id="plan-currency-hint" class="hint">
            ISO 4217 code: EUR, USD, JPY…
          </small>
        </div>
        <div class="field">
          <label for="plan-period">Billed every</label>
          <select id="plan-period" name="period">
            <option value="month">month</option>
            <option value="year">year</option>
          </select>
        </div>
        <Field id="plan-trial" label="Free trial (days)" name="trial_days" type="number" min={0} max={365} defaultValue="0" hint="0 for none; at most 365." />
        <fieldset class="field">
          <legend>Unlocks</legend>
          <label class="choice">
            <input type="radio" name="unlocks" value="catalog" checked={unlockKind === 'catalog'} onChange={() => setUnlockKind('catalog')} /> Every title
          </label>
          <label class="choice">
            <input type="radio" name="unlocks" value="tag" checked={unlockKind === 'tag'} onChange={() => setUnlockKind('tag')} /> Titles with a tag
          </label>
          {unlockKind === 'tag' && <Field id="plan-tag" label="Tag" name="tag" required />}
        </fieldset>
      </div>
      <div>
        <button type="submit" disabled={busy}>
          {busy ? 'Making…' : 'Make plan'}
        </button>
      </div>
    </form>
  );
}

function PlanItem({ plan, onChanged }: { plan: Plan; onChanged(said: string): void }) {
  const [editing, setEditing] = useState(false);
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);

  const save = async (event: Event) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget as HTMLFormElement);
    setBusy(true);
    setError(undefined);
    try {
      const changed = await patch<Plan>(
        `/v1/plans/${plan.id}`,
        { name: String(form.get('name')).trim(), trial_days: Number(form.get('trial_days') || 0) },
        { headers: { 'Idempotency-Key': idempotencyKey() } },
      );
      setEditing(false);
      onChanged(`Saved the plan “${changed.name}”.`);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  return (
    <li class="card admin-item">
      <div class="admin-item-head">
        <strong>{plan.name}</strong>
        {plan.archived && <span class="badge">archived</span>}
      </div>
      <p>
        <span class="price">{formatPrice(plan.price)}</span> a {plan.period}
        {plan.trial_days > 0 ? `, ${plan.trial_days}-day free trial` : ', no trial'}; unlocks {unlocksText(plan.unlocks)}.
      </p>
      <p class="muted">Made {formatTime(plan.created_at)}</p>
      {editing ? (
        <form class="stack" onSubmit={save} aria-label={`Edit ${plan.name}`} aria-busy={busy}>
          <ErrorNotice error={error} title="Could not save the plan." />
          <div class="form-grid">
            <Field id={`name-${plan.id}`} label="Name" name="name" defaultValue={plan.name} required maxLength={200} />
            <Field
              id={`trial-${plan.id}`}
              label="Free trial (days)"
              name="trial_days"
              type="number"
              min={0}
              max={365}
              defaultValue={String(plan.trial_days)}
              hint="For new subscribers."
            />
          </div>
          <p class="muted">The price cannot change: for another price, make a new plan and archive this one.</p>
          <div class="row">
            <button type="submit" disabled={busy}>
              {busy ? 'Saving…' : 'Save'}
            </button>
            <button type="button" class="secondary" onClick={() => setEditing(false)}>
              Cancel
            </button>
          </div>
        </form>
      ) : (
        <div class="row">
          <button type="button" class="secondary" aria-label={`Edit ${plan.name}`} onClick={() => setEditing(true)}>
            Edit
          </button>
          {!plan.archived && (
            <ConfirmButton
              label="Archive"
              ariaLabel={`Archive ${plan.name}`}
              title={`Archive “${plan.name}”?`}
              danger
              onConfirm={async () => {
                await del(`/v1/plans/${plan.id}`, { headers: { 'Idempotency-Key': idempotencyKey() } });
                onChanged(`Archived the plan “${plan.name}”.`);
              }}
            >
              <p>It will no longer be sold. Its subscribers keep their subscriptions, renewed as before.</p>
            </ConfirmButton>
          )}
        </div>
      )}
    </li>
  );
}
