// The one way the web app talks to the control API: JSON in and out, the signed-in user's bearer token (renewed
// with the refresh token before it runs out, or once after a 401), and errors as `ApiError` with the API's
// code, message and request id, so a page can say what went wrong in words.

const TOKENS_KEY = 'marquee.tokens';
/** Renew the access token this long before it expires. */
const RENEW_MARGIN_MS = 30_000;

export interface Tokens {
  access_token: string;
  refresh_token: string;
  /** When the access token stops working, Unix milliseconds. */
  expires_at: number;
}

export interface TokenPair {
  access_token: string;
  refresh_token: string;
  expires_in: number;
  token_type: string;
}

/** An error answer from the API (or no answer at all: `status` 0). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly requestId?: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }

  /** The message a person should read, with the request id to quote when asking for help. */
  get sentence(): string {
    const text = this.message.charAt(0).toUpperCase() + this.message.slice(1);
    return this.requestId ? `${text} (request ${this.requestId})` : text;
  }
}

/** The message to show for anything a page caught. */
export function describe(error: unknown): string {
  if (error instanceof ApiError) return error.sentence;
  if (error instanceof Error) return error.message;
  return String(error);
}

type Listener = (tokens: Tokens | null) => void;
const listeners = new Set<Listener>();

export function storedTokens(): Tokens | null {
  try {
    const raw = localStorage.getItem(TOKENS_KEY);
    return raw ? (JSON.parse(raw) as Tokens) : null;
  } catch {
    return null;
  }
}

export function storeTokens(pair: TokenPair | null): void {
  if (pair) {
    const tokens: Tokens = {
      access_token: pair.access_token,
      refresh_token: pair.refresh_token,
      expires_at: Date.now() + pair.expires_in * 1000,
    };
    localStorage.setItem(TOKENS_KEY, JSON.stringify(tokens));
    listeners.forEach((listener) => listener(tokens));
  } else {
    localStorage.removeItem(TOKENS_KEY);
    listeners.forEach((listener) => listener(null));
  }
}

/** Calls `listener` whenever the user signs in or out (in this tab). */
export function onTokens(listener: Listener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

let renewing: Promise<Tokens | null> | null = null;

/** Exchanges the refresh token for a new pair, once however many requests ask at the same time. */
function renew(tokens: Tokens): Promise<Tokens | null> {
  renewing ??= (async () => {
    try {
      const response = await fetch('/v1/auth/refresh', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ refresh_token: tokens.refresh_token }),
      });
      if (!response.ok) {
        // Another tab may have renewed with this refresh token already and stored the new pair.
        const latest = storedTokens();
        if (latest && latest.refresh_token !== tokens.refresh_token) return latest;
        storeTokens(null);
        return null;
      }
      storeTokens((await response.json()) as TokenPair);
      return storedTokens();
    } finally {
      renewing = null;
    }
  })();
  return renewing;
}

/** The access token to send now, renewed first when it is about to expire. */
export async function accessToken(): Promise<string | null> {
  let tokens = storedTokens();
  if (tokens && tokens.expires_at - RENEW_MARGIN_MS < Date.now()) tokens = await renew(tokens);
  return tokens?.access_token ?? null;
}

export interface RequestOptions {
  headers?: Record<string, string>;
  signal?: AbortSignal;
  /** Send no bearer token even when signed in. */
  anonymous?: boolean;
  /** Let the request outlive the page (for what a page sends as it is left, e.g. player beacons). */
  keepalive?: boolean;
}

async function errorFrom(response: Response): Promise<ApiError> {
  try {
    const body = (await response.json()) as { error?: { code?: string; message?: string; request_id?: string } };
    if (body.error?.message) {
      return new ApiError(response.status, body.error.code ?? 'error', body.error.message, body.error.request_id);
    }
  } catch {
    // Not JSON: say what the status was.
  }
  return new ApiError(response.status, 'http_' + response.status, `the server answered ${response.status} ${response.statusText}`);
}

/** Sends one request to the API and returns its JSON answer (`undefined` for 204). */
export async function request<T>(method: string, path: string, body?: unknown, options: RequestOptions = {}): Promise<T> {
  const send = async (token: string | null) => {
    const headers: Record<string, string> = { accept: 'application/json', ...options.headers };
    // A Blob (a file the user picked) is sent as it is, e.g. artwork; anything else as JSON.
    const raw = body instanceof Blob;
    if (body !== undefined) headers['content-type'] ??= raw ? body.type || 'application/octet-stream' : 'application/json';
    if (token && !options.anonymous) headers.authorization = `Bearer ${token}`;
    try {
      return await fetch(path, {
        method,
        headers,
        body: body === undefined ? undefined : raw ? body : JSON.stringify(body),
        signal: options.signal,
        keepalive: options.keepalive,
      });
    } catch (e) {
      if (e instanceof DOMException && e.name === 'AbortError') throw e;
      throw new ApiError(0, 'unreachable', 'the server cannot be reached: check your connection and try again');
    }
  };
  let response = await send(await accessToken());
  const tokens = storedTokens();
  if (response.status === 401 && tokens && !options.anonymous) {
    const renewed = await renew(tokens);
    if (renewed) response = await send(renewed.access_token);
  }
  if (!response.ok) throw await errorFrom(response);
  if (response.status === 204) return undefined as T;
  const text = await response.text();
  return (text ? JSON.parse(text) : undefined) as T;
}

export const get = <T>(path: string, options?: RequestOptions) => request<T>('GET', path, undefined, options);
export const post = <T>(path: string, body?: unknown, options?: RequestOptions) => request<T>('POST', path, body ?? {}, options);
export const put = <T>(path: string, body?: unknown, options?: RequestOptions) => request<T>('PUT', path, body ?? {}, options);
export const patch = <T>(path: string, body?: unknown, options?: RequestOptions) => request<T>('PATCH', path, body ?? {}, options);
export const del = <T>(path: string, options?: RequestOptions) => request<T>('DELETE', path, undefined, options);

/** A path with its query string; undefined and empty values are left out. */
export function withQuery(path: string, query: Record<string, string | number | boolean | undefined | null>): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== '') params.set(key, String(value));
  }
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}

/** A fresh key for `Idempotency-Key`, so a retried payment or upload is done once. */
export function idempotencyKey(): string {
  return crypto.randomUUID();
}
