// The shapes of the API answers the viewer's pages read (from the OpenAPI document's schemas).

export type TitleKind = 'movie' | 'series' | 'season' | 'episode';

export interface Artwork {
  poster?: string | null;
  poster_url?: string | null;
  poster_source?: 'upload' | 'asset' | null;
  backdrop?: string | null;
  backdrop_url?: string | null;
}

export interface Title {
  id: string;
  kind: TitleKind;
  title: string;
  original_title?: string | null;
  synopsis: string;
  release_year?: number | null;
  runtime_minutes?: number | null;
  maturity_rating?: string | null;
  languages: string[];
  genres: string[];
  tags: string[];
  artwork: Artwork;
  number?: number | null;
  parent_id?: string | null;
  owner_id: string;
}

export interface Credit {
  person_id: string;
  name: string;
  kind: 'cast' | 'crew';
  character?: string | null;
  role?: string | null;
}

export interface TitleDetail extends Title {
  /** `playback_policy`: `public` plays for anyone (free to watch), `signed` needs a plan, a rental or a purchase. */
  assets: { asset_id: string; role: 'feature' | 'trailer' | 'episode'; playback_policy?: 'public' | 'signed' | null }[];
  availability: { starts_at?: number | null; ends_at?: number | null; regions?: string[] }[];
  credits: Credit[];
  episodes?: Title[];
  seasons?: (Title & { episodes: Title[] })[];
}

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

export interface Page<T> {
  items: T[];
  next_cursor?: string | null;
}

export interface Person {
  id: string;
  name: string;
  biography: string;
  other_names: string[];
  titles: { id: string; title: string }[];
}

export interface Money {
  amount_minor: number;
  currency: string;
}

export type Unlocks = { kind: 'catalog' } | { kind: 'tag'; tag: string };

export interface Plan {
  id: string;
  name: string;
  period: 'month' | 'year';
  price: Money;
  trial_days: number;
  unlocks: Unlocks;
  archived: boolean;
}

export interface Offer {
  id: string;
  title_id: string;
  kind: 'rental' | 'purchase';
  price: Money;
  watch_window_hours?: number | null;
  expires_unplayed_days?: number | null;
  archived: boolean;
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
