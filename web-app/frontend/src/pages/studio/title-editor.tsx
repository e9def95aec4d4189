// Creating and editing a catalog entry (/studio/titles/new, /studio/titles/:id): its details, the videos it
// plays, artwork, credits, availability (publishing), and the offers that rent or sell it.

import { useEffect, useState } from 'preact/hooks';
import { useLocation, useRoute } from 'preact-iso';
import { ApiError, del, get, idempotencyKey, patch, post, put, withQuery } from '../../api';
import { ErrorNotice, Loading } from '../../components/notice';
import { formatDuration, formatMoney, formatTime } from '../../format';
import { useTitle } from '../../hooks';
import { hasRole, useSession } from '../../session';
import { assetName, ConfirmButton, loadAll, Poster, statusWords, StudioPage } from './common';
import { kindWords } from './titles';
import type { Asset, AssetRole, Credit, Offer, Person, Title, TitleDetail, TitleKind, Window } from './types';
import { MATURITY_RATINGS } from './types';

/** An action's state: busy, its error, and a "saved" note that the screen reader hears. */
function useAction() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const [done, setDone] = useState<string>();
  const run = async (work: () => Promise<void>, doneWords = 'Saved.') => {
    setBusy(true);
    setError(undefined);
    setDone(undefined);
    try {
      await work();
      setDone(doneWords);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  return { busy, error, done, run, setError };
}

function Outcome({ error, done }: { error: unknown; done?: string }) {
  return (
    <>
      <ErrorNotice error={error} />
      <p class="saved small" role="status">
        {done ?? ''}
      </p>
    </>
  );
}

const list = (text: string) =>
  text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

function TextField({ name, label, value, hint, type = 'text', ...rest }: { name: string; label: string; value?: string | number | null; hint?: string; type?: string; [key: string]: unknown }) {
  const id = `title-${name}`;
  return (
    <div class="field">
      <label for={id}>{label}</label>
      <input id={id} name={name} type={type as 'text'} defaultValue={value == null ? '' : String(value)} aria-describedby={hint ? `${id}-hint` : undefined} {...rest} />
      {hint && (
        <small id={`${id}-hint`} class="hint">
          {hint}
        </small>
      )}
    </div>
  );
}

/** The details form, for a new title (with its kind and parent) or an existing one. */
function DetailsForm({ title, onSaved }: { title?: TitleDetail; onSaved: (t: TitleDetail) => void }) {
  const { user } = useSession();
  const isNew = !title;
  const [kind, setKind] = useState<TitleKind>(title?.kind ?? 'movie');
  const [parents, setParents] = useState<Title[]>();
  const [maturity, setMaturity] = useState(title?.maturity_rating ?? '');
  const action = useAction();

  useEffect(() => {
    if (!isNew || (kind !== 'season' && kind !== 'episode') || !user) return;
    const parentKind = kind === 'season' ? 'series' : 'season';
    loadAll<Title>('/v1/titles', { available: 'any', kind: parentKind })
      .then((all) => setParents(hasRole(user, 'admin') ? all : all.filter((t) => t.owner_id === user.id)))
      .catch(action.setError);
  }, [isNew, kind, user?.id]);

  const submit = (event: Event) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget as HTMLFormElement);
    const text = (key: string) => String(form.get(key) ?? '').trim();
    const num = (key: string) => (text(key) === '' ? null : Number(text(key)));
    const body: Record<string, unknown> = {
      title: text('title'),
      original_title: text('original_title') || null,
      synopsis: text('synopsis') || (isNew ? null : ''),
      release_year: num('release_year'),
      runtime_minutes: num('runtime_minutes'),
      maturity_rating: text('maturity_rating') || null,
      genres: list(text('genres')),
      languages: list(text('languages')),
      tags: list(text('tags')),
    };
    if (isNew) {
      body.kind = kind;
      if (kind === 'season' || kind === 'episode') {
        body.parent_id = text('parent_id') || null;
        body.number = num('number');
      }
      for (const key of Object.keys(body)) if (body[key] === null) delete body[key];
    } else if (title.kind === 'season' || title.kind === 'episode') {
      body.number = num('number');
    }
    void action.run(async () => {
      const saved = isNew
        ? await post<TitleDetail>('/v1/titles', body, { headers: { 'idempotency-key': idempotencyKey() } })
        : await patch<TitleDetail>(`/v1/titles/${title.id}`, body);
      onSaved(saved);
    }, isNew ? 'Created.' : 'Saved.');
  };

  const numbered = kind === 'season' || kind === 'episode';
  return (
    <form onSubmit={submit} class="stack" aria-busy={action.busy} key={title?.updated_at}>
      <div class="form-grid">
        {isNew && (
          <div class="field">
            <label for="title-kind">Kind</label>
            <select id="title-kind" name="kind" value={kind} onChange={(e) => setKind(e.currentTarget.value as TitleKind)}>
              <option value="movie">Movie</option>
              <option value="series">Series</option>
              <option value="season">Season (of a series)</option>
              <option value="episode">Episode (of a season)</option>
            </select>
          </div>
        )}
        {isNew && numbered && (
          <div class="field">
            <label for="title-parent">{kind === 'season' ? 'Series' : 'Season'}</label>
            <select id="title-parent" name="parent_id" required>
              <option value="">Choose…</option>
              {(parents ?? []).map((p) => (
                <option value={p.id}>
                  {p.title}
                  {p.number != null ? ` (${p.number})` : ''}
                </option>
              ))}
            </select>
            {parents?.length === 0 && (
              <small class="hint">
                No {kind === 'season' ? 'series' : 'season'} yet: create that first.
              </small>
            )}
          </div>
        )}
        <TextField name="title" label="Name" value={title?.title} required maxLength={300} />
        <TextField name="original_title" label="Original name" value={title?.original_title} hint="If it was released under another name." />
        {numbered || (title && title.number != null) ? (
          <TextField name="number" label="Number" type="number" min={0} max={100000} value={title?.number} required />
        ) : null}
        <TextField name="release_year" label="Year" type="number" min={1870} max={2100} value={title?.release_year} />
        <TextField name="runtime_minutes" label="Runtime (minutes)" type="number" min={1} max={10080} value={title?.runtime_minutes} />
        <div class="field">
          <label for="title-maturity">Maturity rating</label>
          <select id="title-maturity" name="maturity_rating" value={maturity} onChange={(e) => setMaturity(e.currentTarget.value)}>
            <option value="">Not rated</option>
            {MATURITY_RATINGS.map((r) => (
              <option value={r}>{r}</option>
            ))}
          </select>
        </div>
        <TextField name="genres" label="Genres" value={title?.genres.join(', ')} hint="Separated by commas: drama, comedy." />
        <TextField name="languages" label="Languages" value={title?.languages.join(', ')} hint="Language tags separated by commas: en, pt-BR." />
        <TextField name="tags" label="Tags" value={title?.tags.join(', ')} hint="Collections a plan can unlock, separated by commas." />
        <div class="field wide">
          <label for="title-synopsis">Synopsis</label>
          <textarea id="title-synopsis" name="synopsis" defaultValue={title?.synopsis ?? ''} rows={4} />
        </div>
      </div>
      <Outcome error={action.error} done={action.done} />
      <div class="row">
        <button type="submit" disabled={action.busy}>
          {isNew ? 'Create title' : 'Save details'}
        </button>
      </div>
    </form>
  );
}

function assetOption(asset: Asset): string {
  const duration = asset.duration_seconds ?? asset.source?.duration_seconds;
  return `${assetName(asset)} · ${statusWords(asset.status)}${duration != null ? ` · ${formatDuration(duration)}` : ''} · ${formatTime(asset.created_at)}`;
}

function VideosSection({ title, onSaved }: { title: TitleDetail; onSaved: (t: TitleDetail) => void }) {
  const [assets, setAssets] = useState<Asset[]>();
  const action = useAction();
  useEffect(() => {
    loadAll<Asset>('/v1/assets')
      .then((all) => setAssets(all.sort((a, b) => b.created_at - a.created_at)))
      .catch(action.setError);
  }, []);
  const mainRole: AssetRole | null = title.kind === 'movie' ? 'feature' : title.kind === 'episode' ? 'episode' : null;
  const main = title.assets.find((a) => a.role === mainRole)?.asset_id ?? '';
  const trailers = title.assets.filter((a) => a.role === 'trailer');
  const [chosenMain, setChosenMain] = useState(main);
  const [chosenTrailer, setChosenTrailer] = useState(trailers[0]?.asset_id ?? '');
  useEffect(() => {
    setChosenMain(main);
    setChosenTrailer(trailers[0]?.asset_id ?? '');
  }, [title.updated_at, main, trailers[0]?.asset_id]);
  const byId = new Map((assets ?? []).map((a) => [a.id, a]));

  const submit = (event: Event) => {
    event.preventDefault();
    const links: { asset_id: string; role: AssetRole }[] = [];
    if (mainRole && chosenMain) links.push({ asset_id: chosenMain, role: mainRole });
    if (chosenTrailer) links.push({ asset_id: chosenTrailer, role: 'trailer' });
    // Further trailers (linked elsewhere) are kept.
    for (const t of trailers.slice(1)) if (t.asset_id !== chosenTrailer) links.push({ asset_id: t.asset_id, role: t.role });
    void action.run(async () => onSaved(await put<TitleDetail>(`/v1/titles/${title.id}/assets`, { assets: links })));
  };

  if (!assets) return action.error ? <ErrorNotice error={action.error} /> : <Loading label="Loading your videos…" />;
  const options = (selected: string) => (
    <>
      <option value="">None</option>
      {selected && !byId.has(selected) && <option value={selected}>{`Video …${selected.slice(-8)} (not in your library)`}</option>}
      {assets.map((a) => (
        <option value={a.id}>{assetOption(a)}</option>
      ))}
    </>
  );
  const mainAsset = byId.get(main);
  return (
    <form onSubmit={submit} class="stack">
      {assets.length === 0 && (
        <p class="muted">
          Your library is empty: <a href="/studio/upload">upload a video</a> first.
        </p>
      )}
      <div class="form-grid">
        {mainRole && (
          <div class="field">
            <label for="video-main">{mainRole === 'feature' ? 'Feature (the film)' : 'Episode video'}</label>
            <select id="video-main" name="main" value={chosenMain} onChange={(e) => setChosenMain(e.currentTarget.value)}>
              {options(main)}
            </select>
            {mainAsset && mainAsset.status !== 'ready' && (
              <small class="hint">It is not ready yet ({statusWords(mainAsset.status).toLowerCase()}): viewers can play it once it is.</small>
            )}
          </div>
        )}
        <div class="field">
          <label for="video-trailer">Trailer</label>
          <select id="video-trailer" name="trailer" value={chosenTrailer} onChange={(e) => setChosenTrailer(e.currentTarget.value)}>
            {options(trailers[0]?.asset_id ?? '')}
          </select>
        </div>
      </div>
      {!mainRole && <p class="muted small">A {title.kind} plays its episodes; it can have a trailer.</p>}
      <Outcome error={action.error} done={action.done} />
      <div class="row">
        <button type="submit" disabled={action.busy}>
          Save videos
        </button>
        {main && (
          <a class="button secondary" href={`/watch/${title.id}`}>
            Preview
          </a>
        )}
        {main && <a href={`/studio/assets/${main}`}>The feature's video</a>}
      </div>
    </form>
  );
}

const MAX_ARTWORK_BYTES = 10 * 1024 * 1024;

function ArtworkPicker({ title, kind, onSaved }: { title: TitleDetail; kind: 'poster' | 'backdrop'; onSaved: (t: TitleDetail) => void }) {
  const action = useAction();
  const url = kind === 'poster' ? title.artwork.poster_url : title.artwork.backdrop_url;
  const id = `artwork-${kind}`;
  const words = kind === 'poster' ? 'poster' : 'backdrop';
  return (
    <div class="stack-small">
      <h3>{kind === 'poster' ? 'Poster' : 'Backdrop'}</h3>
      <Poster url={url} class={kind === 'poster' ? 'poster-art' : 'backdrop-art'} alt={url ? `The ${words} of ${title.title}` : ''} />
      <p class="muted small">
        {url
          ? kind === 'poster' && title.artwork.poster_source === 'asset'
            ? 'Taken from the feature: upload one to replace it.'
            : 'Uploaded.'
          : `No ${words} yet.`}
      </p>
      <span class="file-button">
        <input
          id={id}
          type="file"
          class="visually-hidden"
          accept="image/jpeg,image/png,image/webp"
          onChange={(event) => {
            const input = event.currentTarget;
            const file = input.files?.[0];
            input.value = '';
            if (!file) return;
            if (file.size > MAX_ARTWORK_BYTES) {
              action.setError(new Error(`That image is ${(file.size / 1048576).toFixed(1)} MiB; the most is 10 MiB.`));
              return;
            }
            void action.run(async () => onSaved(await put<TitleDetail>(`/v1/titles/${title.id}/artwork/${kind}`, file)), 'Uploaded.');
          }}
        />
        <label for={id} class="button secondary">
          Upload a {words}
        </label>
      </span>
      <Outcome error={action.error} done={action.done} />
    </div>
  );
}

function CreditsSection({ title, onSaved }: { title: TitleDetail; onSaved: (t: TitleDetail) => void }) {
  const [people, setPeople] = useState<Person[]>();
  const [kind, setKind] = useState<'cast' | 'crew'>('cast');
  const action = useAction();
  useEffect(() => {
    loadAll<Person>('/v1/people').then(setPeople).catch(() => setPeople([]));
  }, []);

  const save = (credits: Credit[], words = 'Saved.') =>
    action.run(async () => {
      const input = credits.map((c) => ({
        person_id: c.person_id,
        kind: c.kind,
        ...(c.kind === 'cast' ? { character: c.character || null } : { role: c.role || 'crew' }),
      }));
      onSaved(await put<TitleDetail>(`/v1/titles/${title.id}/credits`, { credits: input }));
    }, words);

  const move = (index: number, by: number) => {
    const credits = [...title.credits];
    const [c] = credits.splice(index, 1);
    credits.splice(index + by, 0, c);
    void save(credits, 'Moved.');
  };

  const add = (event: Event) => {
    event.preventDefault();
    const formElement = event.currentTarget as HTMLFormElement;
    const form = new FormData(formElement);
    const name = String(form.get('name') ?? '').trim();
    const detail = String(form.get('detail') ?? '').trim();
    if (!name) return;
    void action.run(async () => {
      let person = people?.find((p) => p.name.toLowerCase() === name.toLowerCase());
      if (!person) {
        person = await post<Person>('/v1/people', { name }, { headers: { 'idempotency-key': idempotencyKey() } });
        setPeople((old) => [...(old ?? []), person!]);
      }
      const credit: Credit = { person_id: person.id, name: person.name, kind, ...(kind === 'cast' ? { character: detail || null } : { role: detail || 'director' }) };
      const input = [...title.credits, credit].map((c) => ({
        person_id: c.person_id,
        kind: c.kind,
        ...(c.kind === 'cast' ? { character: c.character || null } : { role: c.role || 'crew' }),
      }));
      onSaved(await put<TitleDetail>(`/v1/titles/${title.id}/credits`, { credits: input }));
      formElement.reset();
    }, `Added ${name}.`);
  };

  return (
    <div class="stack">
      {title.credits.length === 0 ? (
        <p class="muted">No credits yet: add the cast and crew below, in billing order.</p>
      ) : (
        <ol class="credit-list">
          {title.credits.map((c, i) => (
            <li>
              <span>
                <strong>{c.name}</strong>{' '}
                <span class="muted">{c.kind === 'cast' ? (c.character ? `as ${c.character}` : 'cast') : c.role}</span>
              </span>
              <span class="row">
                <button type="button" class="secondary" disabled={i === 0 || action.busy} onClick={() => move(i, -1)} aria-label={`Move ${c.name} up`}>
                  ↑
                </button>
                <button
                  type="button"
                  class="secondary"
                  disabled={i === title.credits.length - 1 || action.busy}
                  onClick={() => move(i, 1)}
                  aria-label={`Move ${c.name} down`}
                >
                  ↓
                </button>
                <button
                  type="button"
                  class="danger"
                  disabled={action.busy}
                  onClick={() => void save(title.credits.filter((_, j) => j !== i), `Removed ${c.name}.`)}
                  aria-label={`Remove ${c.name}`}
                >
                  Remove
                </button>
              </span>
            </li>
          ))}
        </ol>
      )}
      <form class="inline-form" onSubmit={add}>
        <div class="field">
          <label for="credit-name">Person</label>
          <input id="credit-name" name="name" list="people-names" required autoComplete="off" aria-describedby="credit-name-hint" />
          <small id="credit-name-hint" class="hint">
            A name from the list, or a new one (it is added).
          </small>
          <datalist id="people-names">
            {(people ?? []).map((p) => (
              <option value={p.name} />
            ))}
          </datalist>
        </div>
        <div class="field">
          <label for="credit-kind">Credit</label>
          <select id="credit-kind" name="kind" value={kind} onChange={(e) => setKind(e.currentTarget.value as 'cast' | 'crew')}>
            <option value="cast">Cast</option>
            <option value="crew">Crew</option>
          </select>
        </div>
        <div class="field">
          <label for="credit-detail">{kind === 'cast' ? 'Character' : 'Job'}</label>
          <input id="credit-detail" name="detail" placeholder={kind === 'cast' ? 'optional' : 'director, writer…'} />
        </div>
        <button type="submit" disabled={action.busy}>
          Add credit
        </button>
      </form>
      <Outcome error={action.error} done={action.done} />
    </div>
  );
}

/** The "unpublished" window: one that closed at the start of 1970. */
const UNPUBLISHED: Window[] = [{ ends_at: 1 }];

function availabilityWords(windows: Window[], now = Date.now()): string {
  if (windows.length === 0) return 'Published: available to viewers now, everywhere.';
  const open = windows.filter((w) => (w.starts_at == null || w.starts_at <= now) && (w.ends_at == null || now < w.ends_at));
  if (open.length > 0) {
    const regions = open.some((w) => !w.regions?.length) ? 'everywhere' : `in ${[...new Set(open.flatMap((w) => w.regions ?? []))].join(', ')}`;
    const until = open.every((w) => w.ends_at != null) ? ` until ${formatTime(Math.max(...open.map((w) => w.ends_at!)))}` : '';
    return `Published: available now ${regions}${until}.`;
  }
  const next = windows.filter((w) => w.starts_at != null && w.starts_at > now).map((w) => w.starts_at!);
  if (next.length > 0) return `Scheduled: available from ${formatTime(Math.min(...next))}.`;
  return 'Not published: viewers cannot see or play it.';
}

function windowWords(w: Window): string {
  const from = w.starts_at != null ? `from ${formatTime(w.starts_at)}` : 'since always';
  const until = w.ends_at != null ? `until ${formatTime(w.ends_at)}` : 'for ever';
  const where = w.regions?.length ? `in ${w.regions.join(', ')}` : 'everywhere';
  return `${from}, ${until}, ${where}`;
}

function AvailabilitySection({ title, onSaved }: { title: TitleDetail; onSaved: (t: TitleDetail) => void }) {
  const action = useAction();
  const windows = title.availability;
  const save = (next: Window[], words: string) =>
    action.run(async () => onSaved(await put<TitleDetail>(`/v1/titles/${title.id}/availability`, { windows: next })), words);
  const unpublished = windows.length === 1 && windows[0].ends_at === 1 && windows[0].starts_at == null;
  const add = (event: Event) => {
    event.preventDefault();
    const formElement = event.currentTarget as HTMLFormElement;
    const form = new FormData(formElement);
    const time = (key: string) => {
      const text = String(form.get(key) ?? '');
      return text ? new Date(text).getTime() : null;
    };
    const w: Window = {
      starts_at: time('starts_at'),
      ends_at: time('ends_at'),
      regions: list(String(form.get('regions') ?? '')).map((r) => r.toUpperCase()),
    };
    void save([...(unpublished ? [] : windows), w], 'Window added.').then(() => formElement.reset());
  };
  return (
    <div class="stack">
      <p>
        <strong>{availabilityWords(windows)}</strong>
      </p>
      <div class="row">
        <button type="button" disabled={action.busy || windows.length === 0} onClick={() => void save([], 'Published.')}>
          Publish now, everywhere
        </button>
        <button type="button" class="secondary" disabled={action.busy || unpublished} onClick={() => void save(UNPUBLISHED, 'Unpublished.')}>
          Unpublish
        </button>
      </div>
      {windows.length > 0 && !unpublished && (
        <ul class="window-list">
          {windows.map((w, i) => (
            <li>
              <span>{windowWords(w)}</span>
              <button
                type="button"
                class="danger"
                disabled={action.busy}
                onClick={() => void save(windows.filter((_, j) => j !== i), 'Window removed.')}
                aria-label={`Remove the window ${windowWords(w)}`}
              >
                Remove
              </button>
            </li>
          ))}
        </ul>
      )}
      <details>
        <summary>Limit it to a time or to regions</summary>
        <form class="inline-form" onSubmit={add}>
          <div class="field">
            <label for="window-start">From</label>
            <input id="window-start" name="starts_at" type="datetime-local" />
          </div>
          <div class="field">
            <label for="window-end">Until</label>
            <input id="window-end" name="ends_at" type="datetime-local" />
          </div>
          <div class="field">
            <label for="window-regions">Regions</label>
            <input id="window-regions" name="regions" placeholder="US, CA (empty: everywhere)" aria-describedby="window-regions-hint" />
            <small id="window-regions-hint" class="hint">
              Two-letter country codes.
            </small>
          </div>
          <button type="submit" disabled={action.busy}>
            Add window
          </button>
        </form>
        <p class="muted small">It is available while any of its windows is open; with none, always and everywhere.</p>
      </details>
      <Outcome error={action.error} done={action.done} />
    </div>
  );
}

/** Digits after the decimal point in `currency` (2 for EUR, 0 for JPY). */
function minorDigits(currency: string): number {
  try {
    return new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits ?? 2;
  } catch {
    return 2;
  }
}

function offerWords(o: Offer): string {
  if (o.kind === 'purchase') return `Buy for ${formatMoney(o.price.amount_minor, o.price.currency)}`;
  return `Rent for ${formatMoney(o.price.amount_minor, o.price.currency)} · ${o.watch_window_hours ?? 48} h to watch once started, ${o.expires_unplayed_days ?? 30} days to start`;
}

function OffersSection({ title }: { title: TitleDetail }) {
  const [offers, setOffers] = useState<Offer[]>();
  const [kind, setKind] = useState<'rental' | 'purchase'>('rental');
  const action = useAction();
  const load = () =>
    get<Offer[]>(withQuery('/v1/offers', { title_id: title.id }))
      .then(setOffers)
      .catch(action.setError);
  useEffect(() => {
    void load();
  }, [title.id]);

  const add = (event: Event) => {
    event.preventDefault();
    const formElement = event.currentTarget as HTMLFormElement;
    const form = new FormData(formElement);
    const currency = String(form.get('currency') ?? '').trim().toUpperCase();
    const price = Number(String(form.get('price') ?? '').replace(',', '.'));
    if (!/^[A-Z]{3}$/.test(currency)) {
      action.setError(new Error('The currency is a three-letter code such as EUR or USD.'));
      return;
    }
    if (!(price > 0)) {
      action.setError(new Error('The price must be more than zero.'));
      return;
    }
    const body: Record<string, unknown> = {
      title_id: title.id,
      kind,
      price: { amount_minor: Math.round(price * 10 ** minorDigits(currency)), currency },
    };
    if (kind === 'rental') {
      body.watch_window_hours = Number(form.get('watch_window_hours')) || 48;
      body.expires_unplayed_days = Number(form.get('expires_unplayed_days')) || 30;
    }
    void action.run(async () => {
      await post<Offer>('/v1/offers', body, { headers: { 'idempotency-key': idempotencyKey() } });
      await load();
      formElement.reset();
    }, 'Offer added.');
  };

  const live = (offers ?? []).filter((o) => !o.archived);
  return (
    <div class="stack">
      {offers === undefined ? (
        <Loading label="Loading offers…" />
      ) : live.length === 0 ? (
        <p class="muted">Not for rent or sale on its own: viewers reach it through plans. Add an offer to rent or sell it.</p>
      ) : (
        <ul class="offer-list">
          {live.map((o) => (
            <li data-offer={o.id}>
              <span>{offerWords(o)}</span>
              <ConfirmButton
                label="Withdraw"
                question="Withdraw this offer? Rentals and purchases made stay."
                confirmLabel="Withdraw it"
                onConfirm={() =>
                  action.run(async () => {
                    await del(`/v1/offers/${o.id}`);
                    await load();
                  }, 'Withdrawn.')
                }
              />
            </li>
          ))}
        </ul>
      )}
      <form class="inline-form" onSubmit={add}>
        <div class="field">
          <label for="offer-kind">Offer</label>
          <select id="offer-kind" name="kind" value={kind} onChange={(e) => setKind(e.currentTarget.value as 'rental' | 'purchase')}>
            <option value="rental">Rent</option>
            <option value="purchase">Buy</option>
          </select>
        </div>
        <div class="field">
          <label for="offer-price">Price</label>
          <input id="offer-price" name="price" inputMode="decimal" required placeholder="3.99" />
        </div>
        <div class="field">
          <label for="offer-currency">Currency</label>
          <input id="offer-currency" name="currency" defaultValue="EUR" required maxLength={3} pattern="[A-Za-z]{3}" />
        </div>
        {kind === 'rental' && (
          <>
            <div class="field">
              <label for="offer-window">Hours to watch</label>
              <input id="offer-window" name="watch_window_hours" type="number" min={1} max={8760} defaultValue="48" />
            </div>
            <div class="field">
              <label for="offer-expiry">Days to start</label>
              <input id="offer-expiry" name="expires_unplayed_days" type="number" min={1} max={365} defaultValue="30" />
            </div>
          </>
        )}
        <button type="submit" disabled={action.busy}>
          Add offer
        </button>
      </form>
      <Outcome error={action.error} done={action.done} />
    </div>
  );
}

function Section({ id, title, children }: { id: string; title: string; children: preact.ComponentChildren }) {
  return (
    <section class="editor-section card" aria-labelledby={id}>
      <h2 id={id}>{title}</h2>
      {children}
    </section>
  );
}

export function TitleEditor() {
  const { params } = useRoute();
  const { query, route } = useLocation();
  const id = params.id;
  const [title, setTitle] = useState<TitleDetail>();
  const [error, setError] = useState<unknown>();
  const [linkError, setLinkError] = useState<unknown>();
  const remove = useAction();
  useTitle(id ? (title ? `Edit ${title.title}` : 'Edit title') : 'New title');

  useEffect(() => {
    if (!id) return;
    setTitle(undefined);
    const controller = new AbortController();
    get<TitleDetail>(`/v1/titles/${id}`, { signal: controller.signal })
      .then(setTitle)
      .catch((e) => {
        if (!controller.signal.aborted) setError(e);
      });
    return () => controller.abort();
  }, [id]);

  if (!id) {
    const assetId = query.asset;
    return (
      <StudioPage>
        <p class="small">
          <a href="/studio/titles">Titles</a> ›
        </p>
        <h1>New title</h1>
        {assetId && <p class="muted">Its video will be the one you came from: change it afterwards under Videos.</p>}
        <ErrorNotice error={linkError} title="The title was created, but its video could not be linked." />
        <DetailsForm
          onSaved={async (created) => {
            if (assetId && (created.kind === 'movie' || created.kind === 'episode')) {
              try {
                await put(`/v1/titles/${created.id}/assets`, {
                  assets: [{ asset_id: assetId, role: created.kind === 'movie' ? 'feature' : 'episode' }],
                });
              } catch (e) {
                setLinkError(e);
              }
            }
            route(`/studio/titles/${created.id}`);
          }}
        />
      </StudioPage>
    );
  }

  if (error) {
    return (
      <StudioPage>
        <h1>Title</h1>
        <ErrorNotice error={error instanceof ApiError && error.status === 404 ? 'No such title: it may have been deleted.' : error} title="Could not load this title." />
        <p>
          <a href="/studio/titles">Back to the titles</a>
        </p>
      </StudioPage>
    );
  }
  if (!title) {
    return (
      <StudioPage>
        <Loading />
      </StudioPage>
    );
  }
  return (
    <StudioPage>
      <p class="small">
        <a href="/studio/titles">Titles</a> ›
      </p>
      <h1>{title.title}</h1>
      <p class="row small">
        <span class="muted">{kindWords(title.kind)}</span>
        <a href={`/studio/analytics/${title.id}`}>Analytics</a>
        <a href={`/titles/${title.id}`}>View in the catalog</a>
      </p>
      <Section id="details-heading" title="Details">
        <DetailsForm title={title} onSaved={setTitle} />
      </Section>
      <Section id="videos-heading" title="Videos">
        <VideosSection title={title} onSaved={setTitle} />
      </Section>
      <Section id="artwork-heading" title="Artwork">
        <div class="form-grid">
          <ArtworkPicker title={title} kind="poster" onSaved={setTitle} />
          <ArtworkPicker title={title} kind="backdrop" onSaved={setTitle} />
        </div>
      </Section>
      <Section id="credits-heading" title="Cast and crew">
        <CreditsSection title={title} onSaved={setTitle} />
      </Section>
      <Section id="availability-heading" title="Availability">
        <AvailabilitySection title={title} onSaved={setTitle} />
      </Section>
      <Section id="offers-heading" title="Rent or buy">
        <OffersSection title={title} />
      </Section>
      <Section id="delete-heading" title="Delete">
        <p class="muted">Deletes the catalog entry with its credits, availability and artwork; its videos stay in the library.</p>
        <ErrorNotice error={remove.error} />
        <ConfirmButton
          label="Delete this title"
          question={`Delete ${title.title}?`}
          confirmLabel="Delete for good"
          onConfirm={() =>
            remove.run(async () => {
              await del(`/v1/titles/${title.id}`);
              route('/studio/titles');
            })
          }
        />
      </Section>
    </StudioPage>
  );
}
