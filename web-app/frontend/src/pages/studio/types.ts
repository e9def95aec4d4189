// The API's shapes the studio reads and writes (from the control API's OpenAPI document).

export type {
  Artwork,
  AssetRole,
  Credit,
  Money,
  Offer,
  Page,
  Person,
  Title,
  TitleDetail,
  TitleKind,
  Window,
} from '../../api-types';

export type AssetStatus = 'waiting_upload' | 'queued' | 'processing' | 'ready' | 'errored' | 'deleted';

export interface Rendition {
  name: string;
  bandwidth: number;
  average_bandwidth?: number | null;
  codecs: string;
  width?: number | null;
  height?: number | null;
}

export interface JobProgress {
  stage: string;
  percent?: number | null;
  fps?: number | null;
  eta_seconds?: number | null;
}

export interface SourceFacts {
  container?: string;
  duration_seconds?: number;
  video?: {
    width?: number;
    height?: number;
    display_width?: number;
    display_height?: number;
    frame_rate?: number;
    rotation?: number;
    codec?: string;
  } | null;
  audio?: { channels?: number; sample_rate?: number; codec?: string } | null;
  [key: string]: unknown;
}

export interface Asset {
  id: string;
  owner_id: string;
  status: AssetStatus;
  playback_policy: 'public' | 'signed';
  preset: string;
  created_at: number;
  updated_at: number;
  duration_seconds?: number | null;
  error?: { code: string; message: string } | null;
  input_url?: string | null;
  poster?: { path: string; url?: string | null } | null;
  progress?: JobProgress | null;
  renditions?: Rendition[] | null;
  source?: SourceFacts | null;
}

export interface AnalyticsReport {
  id: string;
  from: number;
  to: number;
  views: number;
  unique_viewers: number;
  watch_time_ms: number;
  exits_before_start: number;
  average_bitrate_bps?: number | null;
  average_view_duration_ms?: number | null;
  error_rate?: number | null;
  rebuffer_percentage?: number | null;
  startup_time_p50_ms?: number | null;
  startup_time_p95_ms?: number | null;
}

export const MATURITY_RATINGS = ['G', 'PG', 'PG-13', 'R', 'NC-17', 'NR', 'TV-Y', 'TV-Y7', 'TV-G', 'TV-PG', 'TV-14', 'TV-MA'];
