// What the viewer's pages share: title cards and sideways rows of them, loading titles by id, prices and plans in
// words, and the checks of what a viewer holds.

import type { TargetedKeyboardEvent } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { get } from '../../api';
import { formatMoney } from '../../format';
import type { Money, Offer, Plan, Rental, Subscription, Title } from './types';
import './viewer.css';

/** "2019 · 1 h 52 min" and the like: the facts a card or a heading shows under a title's name. */
export function titleFacts(title: Pick<Title, 'release_year' | 'runtime_minutes' | 'kind' | 'number'>): string {
  const parts: string[] = [];
  if (title.kind === 'series') parts.push('Series');
  if (title.release_year) parts.push(String(title.release_year));
  if (title.runtime_minutes) parts.push(runtime(title.runtime_minutes));
  return parts.join(' · ');
}

export function runtime(minutes: number): string {
  const h = Math.floor(minutes / 60);
  const m = minutes % 60;
  return h > 0 ? (m > 0 ? `${h} h ${m} min` : `${h} h`) : `${m} min`;
}

/** A title's poster, or a block with its initial when it has none. */
export function Poster({ title, class: className = 'poster' }: { title: Title; class?: string }) {
  const [broken, setBroken] = useState(false);
  const url = title.artwork?.poster_url;
  if (url && !broken) {
    return <img class={className} src={url} alt="" loading="lazy" decoding="async" onError={() => setBroken(true)} />;
  }
  return (
    <span class={`${className} poster-none`} aria-hidden="true">
      {title.title.charAt(0).toUpperCase()}
    </span>
  );
}

export function TitleCard({ title, note }: { title: Title; note?: string }) {
  const facts = titleFacts(title);
  return (
    <a class="title-card" href={`/titles/${encodeURIComponent(title.id)}`}>
      <Poster title={title} />
      <span class="title-card-name">{title.title}</span>
      {facts && <span class="title-card-facts">{facts}</span>}
      {note && <span class="title-card-facts">{note}</span>}
    </a>
  );
}

/** Left and right arrows (and Home, End) move between the links of a row, as Tab does. */
export function onRowKey(event: TargetedKeyboardEvent<HTMLUListElement>) {
  const keys = ['ArrowLeft', 'ArrowRight', 'Home', 'End'];
  if (!keys.includes(event.key)) return;
  const links = Array.from(event.currentTarget.querySelectorAll<HTMLAnchorElement>('a.title-card'));
  const at = links.indexOf(document.activeElement as HTMLAnchorElement);
  if (at < 0) return;
  const next =
    event.key === 'Home' ? 0 : event.key === 'End' ? links.length - 1 : at + (event.key === 'ArrowRight' ? 1 : -1);
  if (next < 0 || next >= links.length) return;
  event.preventDefault();
  links[next].focus();
  links[next].scrollIntoView({ block: 'nearest', inline: 'nearest' });
}

/** A labelled row of title cards: one line that scrolls sideways on a phone, a list to the keyboard. */
export function TitleRow({ id, label, titles, notes, more }: { id: string; label: string; titles: Title[]; notes?: Record<string, string>; more?: string }) {
  const headingId = `row-${id.replace(/[^A-Za-z0-9_-]/g, '-')}`;
  return (
    <section class="title-row" aria-labelledby={headingId}>
      <div class="row title-row-head">
        <h2 id={headingId}>{label}</h2>
        {more && (
          <a href={more}>
            See all<span class="visually-hidden"> {label}</span>
          </a>
        )}
      </div>
      <ul class="title-row-list" onKeyDown={onRowKey}>
        {titles.map((title) => (
          <li key={title.id}>
            <TitleCard title={title} note={notes?.[title.id]} />
          </li>
        ))}
      </ul>
    </section>
  );
}

const titleCache = new Map<string, Promise<Title | null>>();

/** Remembers titles already loaded (from a list), so pages that show them by id need not ask again. */
export function rememberTitles(titles: Title[]): void {
  for (const title of titles) if (!titleCache.has(title.id)) titleCache.set(title.id, Promise.resolve(title));
}

function loadTitle(id: string): Promise<Title | null> {
  let pending = titleCache.get(id);
  if (!pending) {
    // A title no longer available (or deleted) is left out rather than failing the page.
    pending = get<Title>(`/v1/titles/${encodeURIComponent(id)}`).catch(() => {
      titleCache.delete(id);
      return null;
    });
    titleCache.set(id, pending);
  }
  return pending;
}

/** The titles with these ids, in this order (those that could not be read left out); undefined while loading. */
export function useTitles(ids: string[] | undefined): Title[] | undefined {
  const [titles, setTitles] = useState<Title[] | undefined>(undefined);
  const key = ids?.join(',');
  useEffect(() => {
    if (!ids) return;
    let live = true;
    Promise.all(ids.map(loadTitle)).then((found) => {
      if (live) setTitles(found.filter((t): t is Title => t !== null));
    });
    return () => {
      live = false;
    };
  }, [key]);
  return titles;
}

export const price = (money: Money) => formatMoney(money.amount_minor, money.currency);

export function planPrice(plan: Plan): string {
  return `${price(plan.price)} a ${plan.period}`;
}

export function unlocksText(plan: Plan): string {
  return plan.unlocks.kind === 'catalog' ? 'Every title in the catalog' : `Titles in the “${plan.unlocks.tag}” collection`;
}

export function planCovers(plan: Plan, title: Pick<Title, 'tags'>): boolean {
  return plan.unlocks.kind === 'catalog' || title.tags.includes(plan.unlocks.tag);
}

/** Whether a subscription lets its viewer watch now (a past-due one does, in its grace period). */
export function subscriptionGrants(subscription: Subscription, now = Date.now()): boolean {
  if (subscription.state === 'trialing' || subscription.state === 'active') return true;
  return subscription.state === 'past_due' && (subscription.grace_until ?? 0) > now;
}

export function offerText(offer: Offer): string {
  if (offer.kind === 'purchase') return `Buy for ${price(offer.price)}`;
  return `Rent for ${price(offer.price)}`;
}

export function offerTerms(offer: Offer): string {
  if (offer.kind === 'purchase') return 'Yours to watch for good.';
  const hours = offer.watch_window_hours ?? 48;
  const days = offer.expires_unplayed_days ?? 30;
  const window = hours % 24 === 0 && hours >= 48 ? `${hours / 24} days` : `${hours} hours`;
  return `Plays for ${window} from when you start watching; start within ${days} days.`;
}

/** "2 days 3 h", "5 h 10 min", "12 min": how long until `until` (Unix ms). */
export function timeLeft(until: number, now = Date.now()): string {
  const minutes = Math.max(0, Math.round((until - now) / 60_000));
  const days = Math.floor(minutes / 1440);
  const hours = Math.floor((minutes % 1440) / 60);
  const mins = minutes % 60;
  if (days > 0) return hours > 0 ? `${days} d ${hours} h` : `${days} d`;
  if (hours > 0) return mins > 0 ? `${hours} h ${mins} min` : `${hours} h`;
  return `${mins} min`;
}

export function isRentalPlayable(rental: Rental, now = Date.now()): boolean {
  return rental.first_played_at ? rental.plays_until > now : rental.expires_unplayed_at > now;
}

/** A date without the time: "6 Dec 2026". */
export function formatDate(ms: number): string {
  return new Date(ms).toLocaleDateString(undefined, { day: 'numeric', month: 'short', year: 'numeric' });
}
