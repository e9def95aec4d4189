// The shapes of the API answers the viewer's pages read (from the OpenAPI document's schemas).

import type { Person as BasePerson, Money, Title, TitleKind } from '../../api-types';

export type {
  Artwork,
  Credit,
  Money,
  Offer,
  Page,
  Plan,
  Title,
  TitleAsset,
  TitleDetail,
  TitleKind,
  Unlocks,
} from '../../api-types';

export interface HomeRow {
  key: string;
  label: string;
  items: Title[];
}

/** One item of GET /v1/me/continue-watching: an asset started and not finished. */
export interface ContinueWatchingItem {
  asset_id: string;
  title_id?: string | null;
  position_seconds: number;
  duration_seconds?: number | null;
  watched_at: number;
}

export interface Recommendations {
  items: { title_id: string; reason: string; because?: string | null; score: number }[];
}

export interface SearchResult {
  id: string;
  kind: 'title' | 'person';
  title?: string | null;
  name?: string | null;
  title_kind?: TitleKind | null;
  release_year?: number | null;
  genres?: string[];
}

export interface Person extends BasePerson {
  titles: { id: string; title: string }[];
}

export type OrderState = 'created' | 'paying' | 'pending' | 'fulfilled' | 'failed' | 'refunded';

export interface Order {
  id: string;
  kind: 'subscription' | 'rental' | 'purchase';
  state: OrderState;
  price: Money;
  plan_id?: string | null;
  offer_id?: string | null;
  title_id?: string | null;
  subscription_id?: string | null;
  rental_id?: string | null;
  purchase_id?: string | null;
  failure_code?: string | null;
  created_at: number;
}

export type SubscriptionState = 'trialing' | 'active' | 'past_due' | 'canceled' | 'expired';

export interface Subscription {
  id: string;
  plan_id: string;
  state: SubscriptionState;
  period: 'month' | 'year';
  cancel_at_period_end: boolean;
  current_period_start: number;
  current_period_end: number;
  ended_at?: number | null;
  grace_until?: number | null;
  created_at: number;
}

export interface Rental {
  id: string;
  title_id: string;
  order_id: string;
  active: boolean;
  created_at: number;
  expires_unplayed_at: number;
  first_played_at?: number | null;
  plays_until: number;
  watch_window_ms: number;
}
