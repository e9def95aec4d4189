// Signed media URLs carry their token in the path (`/t/{token}/media/…`), and every URL a player derives from a
// manifest (playlists, init and media segments) carries the manifest's token with it. Refreshing playback
// gives the same files under a new token, so swapping the token in each later request keeps playing without
// reloading anything.

const TOKEN_IN_PATH = /\/t\/([A-Za-z0-9._-]+)\//;

/** The token of a signed media URL, or null when it has none. */
export function tokenOf(url: string): string | null {
  return TOKEN_IN_PATH.exec(url)?.[1] ?? null;
}

/** The token every request should carry now; `rewrite` puts it into a URL signed with an older one. */
export class TokenSwap {
  private token: string | null;
  /** How many times a fresh token was swapped in. */
  swaps = 0;

  constructor(url: string) {
    this.token = tokenOf(url);
  }

  update(url: string): void {
    const token = tokenOf(url);
    if (token && token !== this.token) {
      this.token = token;
      this.swaps += 1;
    }
  }

  rewrite(url: string): string {
    const token = this.token;
    if (!token) return url;
    return url.replace(TOKEN_IN_PATH, (match, old: string) => (old === token ? match : `/t/${token}/`));
  }
}
