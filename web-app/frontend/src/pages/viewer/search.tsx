// Search as you type: the query lives in the URL (?q=, replaced while typing so Back leaves the page rather than
// undoing letters), requests wait for a pause in typing and a newer one aborts the older; titles and people.

import { useEffect, useRef, useState } from 'preact/hooks';
import { useLocation } from 'preact-iso';
import { get, withQuery } from '../../api';
import { ErrorNotice } from '../../components/notice';
import { useDebounced, useTitle } from '../../hooks';
import type { Page, SearchResult } from './types';

const PAGE = 20;

function Result({ result }: { result: SearchResult }) {
  if (result.kind === 'person') {
    return (
      <a class="search-result" href={`/people/${encodeURIComponent(result.id)}`}>
        <span class="search-result-name">{result.name}</span>
        <span class="muted">Person</span>
      </a>
    );
  }
  const facts = [result.title_kind && result.title_kind !== 'movie' ? capitalize(result.title_kind) : 'Film', result.release_year, (result.genres ?? []).join(', ')]
    .filter(Boolean)
    .join(' · ');
  return (
    <a class="search-result" href={`/titles/${encodeURIComponent(result.id)}`}>
      <span class="search-result-name">{result.title}</span>
      <span class="muted">{facts}</span>
    </a>
  );
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

interface State {
  q: string;
  items: SearchResult[];
  next?: string | null;
}

export function Search() {
  const { query, path, route } = useLocation();
  const [text, setText] = useState(query.q ?? '');
  const q = useDebounced(text.trim(), 250);
  const [state, setState] = useState<State | null>(null);
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const controller = useRef<AbortController | null>(null);
  const input = useRef<HTMLInputElement>(null);
  // Arriving on the page puts the cursor in the box (after the router has focused the main landmark).
  useEffect(() => {
    if (!query.q) input.current?.focus();
  }, []);
  useTitle(q ? `Search: ${q}` : 'Search');

  // The URL follows the box at once (replaced, so Back goes to the page before the search, and a result
  // followed right after typing comes back to what was typed).
  const onInput = (value: string) => {
    setText(value);
    route(withQuery(path, { q: value }), true);
  };

  // Back or a link to /search?q=… changes the URL under the page: the box follows it.
  useEffect(() => {
    const fromUrl = query.q ?? '';
    if (fromUrl !== text) setText(fromUrl);
  }, [query.q]);

  const load = async (search: string, after?: string | null) => {
    controller.current?.abort();
    const abort = new AbortController();
    controller.current = abort;
    setBusy(true);
    try {
      const page = await get<Page<SearchResult>>(withQuery('/v1/search', { q: search, limit: PAGE, after }), { signal: abort.signal });
      setState((previous) => ({
        q: search,
        items: after && previous?.q === search ? [...previous.items, ...page.items] : page.items,
        next: page.next_cursor,
      }));
      setError(undefined);
    } catch (e) {
      if (!abort.signal.aborted) setError(e);
    } finally {
      if (!abort.signal.aborted) setBusy(false);
    }
  };

  useEffect(() => {
    if (!q) {
      controller.current?.abort();
      setState(null);
      setError(undefined);
      setBusy(false);
      return;
    }
    load(q);
  }, [q]);
  useEffect(() => () => controller.current?.abort(), []);

  const count = state?.items.length ?? 0;
  return (
    <section class="page stack search-page">
      <h1>Search</h1>
      <form role="search" onSubmit={(event) => event.preventDefault()}>
        <label for="search-q">Titles and people</label>
        <input
          id="search-q"
          type="search"
          class="search-input"
          value={text}
          placeholder="A film, a series, an actor…"
          autoComplete="off"
          spellcheck={false}
          onInput={(event) => onInput(event.currentTarget.value)}
          ref={input}
        />
      </form>
      <ErrorNotice error={error} title="The search failed." />
      <p class="search-count" role="status" aria-live="polite">
        {!q
          ? 'Type to search; small typos are forgiven.'
          : busy && !state
            ? 'Searching…'
            : state && state.q === q
              ? count === 0
                ? <>No results for “{q}”. Check the spelling or try fewer words.</>
                : <><strong class="count">{count}{state.next ? '+' : ''}</strong> {count === 1 ? 'result' : 'results'} for “{q}”</>
              : 'Searching…'}
      </p>
      {state && state.items.length > 0 && (
        <ul class="search-results">
          {state.items.map((result) => (
            <li key={`${result.kind}-${result.id}`}>
              <Result result={result} />
            </li>
          ))}
        </ul>
      )}
      {state?.next && (
        <div>
          <button type="button" class="secondary" disabled={busy} onClick={() => load(state.q, state.next)}>
            {busy ? 'Loading…' : 'Show more results'}
          </button>
        </div>
      )}
    </section>
  );
}
