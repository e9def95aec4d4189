// The shapes of the API answers more than one area of the app reads (from the OpenAPI document's schemas). An
// area's own types file re-exports these and adds what only it reads.

export interface Page<T> {
  items: T[];
  next_cursor?: string | null;
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
  created_at: number;
  updated_at: number;
}

export interface Offer {
  id: string;
  title_id: string;
  kind: 'rental' | 'purchase';
  price: Money;
  archived: boolean;
  created_at: number;
  seller_id?: string | null;
  watch_window_hours?: number | null;
  expires_unplayed_days?: number | null;
}

export type TitleKind = 'movie' | 'series' | 'season' | 'episode';
export type AssetRole = 'feature' | 'trailer' | 'episode';

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
  number?: number | null;
  parent_id?: string | null;
  artwork: Artwork;
  owner_id: string;
  created_at: number;
  updated_at: number;
}

export interface Window {
  starts_at?: number | null;
  ends_at?: number | null;
  regions?: string[];
}

export interface Credit {
  person_id: string;
  name: string;
  kind: 'cast' | 'crew';
  character?: string | null;
  role?: string | null;
}

export interface TitleAsset {
  asset_id: string;
  role: AssetRole;
  /** `public` plays for anyone (free to watch), `signed` needs a plan, a rental or a purchase. */
  playback_policy?: 'public' | 'signed' | null;
}

export interface TitleDetail extends Title {
  assets: TitleAsset[];
  availability: Window[];
  credits: Credit[];
  episodes?: Title[] | null;
  seasons?: (Title & { episodes: Title[] })[] | null;
}

export interface Person {
  id: string;
  name: string;
  other_names: string[];
  biography: string;
}
