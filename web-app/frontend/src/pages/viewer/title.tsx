// A title's page: artwork, facts, synopsis, credits, seasons and episodes, the trailer, what it takes to watch
// (free when its video's playback policy is public; else a plan that includes it, a rental or a purchase, with
// prices shown to visitors too; renting and buying happen here), and "More like this".

import { useMemo, useState } from 'preact/hooks';
import { useLocation, useRoute } from 'preact-iso';
import { ApiError } from '../../api';
import { ErrorNotice, Loading } from '../../components/notice';
import { useResource, useTitle } from '../../hooks';
import { useSession } from '../../session';
import { Checkout } from './checkout';
import {
  formatDate,
  isRentalPlayable,
  offerTerms,
  offerText,
  planCovers,
  planPrice,
  Poster,
  price,
  rememberTitles,
  runtime,
  subscriptionGrants,
  timeLeft,
  TitleRow,
  useTitles,
} from './common';
import type { Offer, Order, Page, Plan, Recommendations, Rental, Subscription, Title, TitleDetail } from './types';

const watchHref = (id: string, asset?: string) => `/watch/${encodeURIComponent(id)}${asset ? `?asset=${encodeURIComponent(asset)}` : ''}`;

function languageName(tag: string): string {
  try {
    return new Intl.DisplayNames(undefined, { type: 'language' }).of(tag) ?? tag;
  } catch {
    return tag;
  }
}

/** What the signed-in viewer holds that lets them watch `title`, in words; null when nothing does. */
function heldAccess(title: TitleDetail, plans: Plan[], subscriptions: Subscription[], rentals: Rental[], orders: Order[]): string | null {
  if (orders.some((o) => o.kind === 'purchase' && o.state === 'fulfilled' && o.title_id === title.id)) return 'You bought this title: it is yours to watch.';
  for (const subscription of subscriptions) {
    const plan = plans.find((p) => p.id === subscription.plan_id);
    if (plan && subscriptionGrants(subscription) && planCovers(plan, title)) return `Included in your ${plan.name} subscription.`;
  }
  const rental = rentals.find((r) => r.title_id === title.id && isRentalPlayable(r));
  if (rental) {
    return rental.first_played_at
      ? `You rented this title: ${timeLeft(rental.plays_until)} left to watch.`
      : `You rented this title: it plays for ${timeLeft(Date.now() + rental.watch_window_ms)} from when you start, until ${formatDate(rental.expires_unplayed_at)} to start.`;
  }
  return null;
}

function OfferItem({ offer, title, onPaid }: { offer: Offer; title: Title; onPaid(): void }) {
  const { user } = useSession();
  const { url } = useLocation();
  const [open, setOpen] = useState(false);
  const panelId = `offer-${offer.id}`;
  return (
    <li class="offer">
      <div class="row offer-head">
        <span>
          <strong>{offer.kind === 'rental' ? 'Rent' : 'Buy'}</strong> {price(offer.price)}
          <span class="muted small"> {offerTerms(offer)}</span>
        </span>
        {user ? (
          <button type="button" class="secondary" aria-expanded={open} aria-controls={panelId} onClick={() => setOpen(!open)}>
            {open ? 'Close' : offerText(offer)}
          </button>
        ) : (
          <a class="button secondary" href={`/signup?next=${encodeURIComponent(url)}`}>
            Sign up to {offer.kind === 'rental' ? 'rent' : 'buy'}
          </a>
        )}
      </div>
      {open && (
        <div id={panelId}>
          <Checkout
            item={{ offer_id: offer.id }}
            action={`Pay ${price(offer.price)} to ${offer.kind === 'rental' ? 'rent' : 'buy'} “${title.title}”`}
            paidText={offer.kind === 'rental' ? 'Rented. Press Play to start watching: the rental’s time starts then.' : 'Bought: it is yours. Press Play to watch.'}
            onPaid={onPaid}
          />
        </div>
      )}
    </li>
  );
}

/** Whether the title's video plays for anyone (its feature, or an episode's video, has the `public` policy). */
function isFree(title: TitleDetail): boolean {
  const main = title.assets.find((a) => a.role === 'feature') ?? title.assets.find((a) => a.role === 'episode');
  return main?.playback_policy === 'public';
}

function HowToWatch({ title }: { title: TitleDetail }) {
  const { loading: sessionLoading } = useSession();
  if (isFree(title)) {
    return (
      <section class="card how-to-watch" aria-labelledby="how-to-watch">
        <h2 id="how-to-watch">How to watch</h2>
        <p class="held">Free: anyone can watch it, no account or plan needed. Press Play.</p>
      </section>
    );
  }
  // Plans and prices are public; what the viewer holds needs the session.
  if (sessionLoading) return null;
  return <Holdings title={title} />;
}

function Holdings({ title }: { title: TitleDetail }) {
  const { user } = useSession();
  const { url } = useLocation();
  const plans = useResource<Plan[]>('/v1/plans');
  const offers = useResource<Offer[]>(`/v1/offers?title_id=${encodeURIComponent(title.id)}`);
  const subscriptions = useResource<Page<Subscription>>(user ? '/v1/subscriptions?limit=200' : null);
  const rentals = useResource<Page<Rental>>(user ? '/v1/rentals?limit=200' : null);
  const orders = useResource<Page<Order>>(user ? '/v1/orders?limit=200' : null);
  const reloadHoldings = () => {
    rentals.reload();
    orders.reload();
  };

  const loading = plans.loading || offers.loading || (user !== null && (subscriptions.loading || rentals.loading || orders.loading));
  if (!plans.data || !offers.data || (user && (!subscriptions.data || !rentals.data || !orders.data))) {
    const error = plans.error ?? offers.error ?? subscriptions.error ?? rentals.error ?? orders.error;
    return (
      <section class="card how-to-watch" aria-labelledby="how-to-watch">
        <h2 id="how-to-watch">How to watch</h2>
        {error ? <ErrorNotice error={error} title="What it takes to watch could not be loaded." /> : loading && <Loading />}
      </section>
    );
  }
  const held = user ? heldAccess(title, plans.data, subscriptions.data!.items, rentals.data!.items, orders.data!.items) : null;
  const covering = plans.data.filter((plan) => !plan.archived && planCovers(plan, title));
  const onSale = offers.data.filter((offer) => !offer.archived && offer.title_id === title.id);
  return (
    <section class="card how-to-watch" aria-labelledby="how-to-watch">
      <h2 id="how-to-watch">How to watch</h2>
      {held && <p class="held">{held}</p>}
      {!held && covering.length === 0 && onSale.length === 0 && (
        <p>This title is in no plan and not for rent or sale yet, so it cannot be watched for now.</p>
      )}
      {!held && covering.length > 0 && (
        <div>
          <p>Included in {covering.length === 1 ? 'a plan' : 'these plans'}:</p>
          <ul class="plain-list">
            {covering.map((plan) => (
              <li key={plan.id} class="row">
                <span>
                  <strong>{plan.name}</strong> {planPrice(plan)}
                  {plan.trial_days > 0 && <span class="muted small"> {plan.trial_days} days free</span>}
                </span>
                <a class="button secondary" href={`/plans?${new URLSearchParams({ plan: plan.id, next: url })}`}>
                  Subscribe to {plan.name}
                </a>
              </li>
            ))}
          </ul>
        </div>
      )}
      {!user && (covering.length > 0 || onSale.length > 0) && (
        <p class="muted small">
          <a href={`/signup?next=${encodeURIComponent(url)}`}>Create an account</a> to subscribe, rent or buy; already have one?{' '}
          <a href={`/signin?next=${encodeURIComponent(url)}`}>Sign in</a>.
        </p>
      )}
      {!held && onSale.length > 0 && covering.length > 0 && <p class="offers-intro">Or on its own:</p>}
      {!held && onSale.length > 0 && (
        <ul class="plain-list offers">
          {onSale.map((offer) => (
            <OfferItem key={offer.id} offer={offer} title={title} onPaid={reloadHoldings} />
          ))}
        </ul>
      )}
    </section>
  );
}

function EpisodeList({ episodes }: { episodes: Title[] }) {
  if (episodes.length === 0) return <p class="muted">No episodes yet.</p>;
  return (
    <ol class="episodes">
      {episodes.map((episode) => (
        <li key={episode.id} class="episode">
          <div>
            <a href={`/titles/${encodeURIComponent(episode.id)}`}>
              {episode.number != null && <span class="muted">{episode.number}. </span>}
              {episode.title}
            </a>
            {episode.runtime_minutes ? <span class="muted small"> {runtime(episode.runtime_minutes)}</span> : null}
            {episode.synopsis && <p class="small muted episode-synopsis">{episode.synopsis}</p>}
          </div>
          <a class="button secondary" href={watchHref(episode.id)} aria-label={`Play ${episode.title}`}>
            Play
          </a>
        </li>
      ))}
    </ol>
  );
}

function Credits({ title }: { title: TitleDetail }) {
  const cast = title.credits.filter((c) => c.kind === 'cast');
  const crew = title.credits.filter((c) => c.kind === 'crew');
  if (title.credits.length === 0) return null;
  return (
    <section aria-labelledby="credits">
      <h2 id="credits">Cast and crew</h2>
      <div class="credits">
        {cast.length > 0 && (
          <ul class="plain-list">
            {cast.map((credit, i) => (
              <li key={`cast-${i}`}>
                <a href={`/people/${encodeURIComponent(credit.person_id)}`}>{credit.name}</a>
                {credit.character && <span class="muted"> as {credit.character}</span>}
              </li>
            ))}
          </ul>
        )}
        {crew.length > 0 && (
          <ul class="plain-list">
            {crew.map((credit, i) => (
              <li key={`crew-${i}`}>
                <a href={`/people/${encodeURIComponent(credit.person_id)}`}>{credit.name}</a>
                {credit.role && <span class="muted"> {credit.role}</span>}
              </li>
            ))}
          </ul>
        )}
      </div>
    </section>
  );
}

function MoreLikeThis({ id }: { id: string }) {
  const similar = useResource<Recommendations>(`/v1/titles/${encodeURIComponent(id)}/similar?limit=12`);
  const ids = useMemo(() => similar.data?.items.map((item) => item.title_id).filter((other) => other !== id), [similar.data]);
  const titles = useTitles(ids);
  if (!titles || titles.length === 0) return null;
  return <TitleRow id="similar" label="More like this" titles={titles} />;
}

export function TitlePage() {
  const { params } = useRoute();
  const id = params.id;
  const detail = useResource<TitleDetail>(`/v1/titles/${encodeURIComponent(id)}`);
  const title = detail.data && detail.data.id === id ? detail.data : undefined;
  useTitle(title?.title ?? (detail.error ? 'Title not found' : 'Title'));
  useMemo(() => {
    if (title) rememberTitles([title, ...(title.episodes ?? []), ...(title.seasons ?? [])]);
  }, [title]);
  const parent = useResource<Title>(title?.parent_id ? `/v1/titles/${encodeURIComponent(title.parent_id)}` : null);

  if (detail.error && !title) {
    const missing = detail.error instanceof ApiError && detail.error.status === 404;
    return (
      <section class="page narrow">
        <h1>{missing ? 'Title not found' : 'This title could not be loaded'}</h1>
        {missing ? (
          <p>
            No title is at this address, or it is not available now. <a href="/search">Search the catalog</a>.
          </p>
        ) : (
          <ErrorNotice error={detail.error} />
        )}
      </section>
    );
  }
  if (!title) return <Loading label="Loading the title…" />;

  const feature = title.assets.find((a) => a.role === 'feature' || a.role === 'episode');
  const trailer = title.assets.find((a) => a.role === 'trailer');
  const firstEpisode = title.seasons?.flatMap((s) => s.episodes)[0] ?? title.episodes?.[0];
  const facts = [
    title.kind === 'series' ? 'Series' : title.kind === 'season' ? `Season ${title.number ?? ''}`.trim() : title.kind === 'episode' ? `Episode ${title.number ?? ''}`.trim() : null,
    title.release_year,
    title.runtime_minutes ? runtime(title.runtime_minutes) : null,
    title.maturity_rating ? `Rated ${title.maturity_rating}` : null,
    title.languages.length ? title.languages.map(languageName).join(', ') : null,
  ].filter(Boolean);

  return (
    <article class="page stack title-page">
      <div class={`title-hero${title.artwork.backdrop_url ? ' with-backdrop' : ''}`}>
        {title.artwork.backdrop_url && <img class="backdrop" src={title.artwork.backdrop_url} alt="" />}
        <Poster title={title} class="poster title-poster" />
        <div class="stack title-head">
          {parent.data && (
            <p class="muted">
              Part of <a href={`/titles/${encodeURIComponent(parent.data.id)}`}>{parent.data.title}</a>
            </p>
          )}
          <h1>{title.title}</h1>
          {title.original_title && title.original_title !== title.title && <p class="muted">{title.original_title}</p>}
          {facts.length > 0 && <p class="title-facts">{facts.join(' · ')}</p>}
          {title.genres.length > 0 && (
            <ul class="chips" aria-label="Genres">
              {title.genres.map((genre) => (
                <li key={genre}>
                  <a href={`/genres/${encodeURIComponent(genre)}`}>{genre}</a>
                </li>
              ))}
            </ul>
          )}
          <div class="row">
            {feature && (
              <a class="button play" href={watchHref(title.id)}>
                ▶ Play
              </a>
            )}
            {!feature && firstEpisode && (
              <a class="button play" href={watchHref(firstEpisode.id)}>
                ▶ Play episode 1
              </a>
            )}
            {trailer && (
              <a class="button secondary" href={watchHref(title.id, trailer.asset_id)}>
                Watch the trailer
              </a>
            )}
          </div>
          {!feature && !firstEpisode && title.kind !== 'series' && title.kind !== 'season' && <p class="muted">No video yet: this title cannot be played.</p>}
        </div>
      </div>

      {title.synopsis && <p class="synopsis">{title.synopsis}</p>}

      <HowToWatch title={title} />

      {title.seasons && (
        <section aria-labelledby="seasons">
          <h2 id="seasons">Seasons and episodes</h2>
          {title.seasons.length === 0 && <p class="muted">No seasons yet.</p>}
          {title.seasons.map((season) => (
            <section key={season.id} class="season" aria-labelledby={`season-${season.id}`}>
              <h3 id={`season-${season.id}`}>
                <a href={`/titles/${encodeURIComponent(season.id)}`}>{season.title || `Season ${season.number}`}</a>
              </h3>
              <EpisodeList episodes={season.episodes} />
            </section>
          ))}
        </section>
      )}
      {!title.seasons && title.episodes && (
        <section aria-labelledby="episodes">
          <h2 id="episodes">Episodes</h2>
          <EpisodeList episodes={title.episodes} />
        </section>
      )}

      <Credits title={title} />
      <MoreLikeThis id={title.id} />
    </article>
  );
}
