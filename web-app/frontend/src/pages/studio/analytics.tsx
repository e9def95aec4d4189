// A title's analytics (/studio/analytics/:titleId): views, watch time, startup time and rebuffering over the
// last day, week or month, as SVG charts, each with a table for screen readers (and anyone who wants numbers).
// The API answers aggregates over one time range, so each bucket of a chart is one request for its range.

import { useEffect, useState } from 'preact/hooks';
import { useRoute } from 'preact-iso';
import { get, withQuery } from '../../api';
import { ErrorNotice, Loading } from '../../components/notice';
import { formatDuration } from '../../format';
import { useTitle } from '../../hooks';
import { StudioPage } from './common';
import type { AnalyticsReport, Title } from './types';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const RANGES = {
  day: { label: 'Last 24 hours', bucket: HOUR, count: 24 },
  week: { label: 'Last 7 days', bucket: DAY, count: 7 },
  month: { label: 'Last 30 days', bucket: DAY, count: 30 },
} as const;
type Range = keyof typeof RANGES;

/** Runs `work` over `items` with at most `limit` at a time. */
async function mapLimited<T, R>(items: T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        results[i] = await work(items[i]);
      }
    }),
  );
  return results;
}

interface Series {
  label: (from: number) => string;
  buckets: AnalyticsReport[];
}

function bucketLabel(range: Range) {
  return (from: number) =>
    range === 'day'
      ? new Date(from).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' })
      : new Date(from).toLocaleDateString(undefined, { month: 'short', day: 'numeric' });
}

interface ChartProps {
  id: string;
  title: string;
  unit: string;
  series: Series;
  value: (r: AnalyticsReport) => number | null | undefined;
  format: (v: number) => string;
  kind: 'bar' | 'line';
}

const W = 600;
const H = 220;
const PAD = { left: 48, right: 12, top: 12, bottom: 28 };

/** One chart: bars or a line over the buckets, and the same numbers as a table. */
function Chart({ id, title, unit, series, value, format, kind }: ChartProps) {
  const values = series.buckets.map((b) => value(b) ?? null);
  const known = values.filter((v): v is number => v !== null);
  const max = Math.max(1, ...known);
  const n = values.length;
  const innerW = W - PAD.left - PAD.right;
  const innerH = H - PAD.top - PAD.bottom;
  const x = (i: number) => PAD.left + (innerW * (i + 0.5)) / n;
  const y = (v: number) => PAD.top + innerH - (innerH * v) / max;
  const barW = Math.max(2, (innerW / n) * 0.7);
  const total = known.length ? known.reduce((a, b) => a + b, 0) : 0;
  const summary =
    known.length === 0
      ? `no data in this period`
      : kind === 'bar'
        ? `${format(total)} in all, at most ${format(Math.max(...known))} in one ${unit}`
        : `from ${format(Math.min(...known))} to ${format(Math.max(...known))}`;
  const points = values.map((v, i) => (v === null ? null : ([x(i), y(v)] as const)));
  // A line breaks where a bucket has no value.
  const paths: string[] = [];
  let current = '';
  for (const p of points) {
    if (!p) {
      if (current) paths.push(current);
      current = '';
    } else current += `${current ? 'L' : 'M'}${p[0].toFixed(1)},${p[1].toFixed(1)}`;
  }
  if (current) paths.push(current);
  const tickEvery = Math.ceil(n / 6);
  return (
    <figure class="chart card" data-chart={id}>
      <figcaption id={`${id}-caption`}>{title}</figcaption>
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-labelledby={`${id}-caption ${id}-summary`}>
        <line class="axis" x1={PAD.left} x2={W - PAD.right} y1={PAD.top + innerH} y2={PAD.top + innerH} />
        <line class="axis" x1={PAD.left} x2={W - PAD.right} y1={PAD.top} y2={PAD.top} stroke-dasharray="4 4" />
        <text x={PAD.left - 6} y={PAD.top + 4} text-anchor="end">
          {format(max)}
        </text>
        <text x={PAD.left - 6} y={PAD.top + innerH + 4} text-anchor="end">
          0
        </text>
        {series.buckets.map((b, i) =>
          i % tickEvery === 0 ? (
            <text x={x(i)} y={H - 8} text-anchor="middle">
              {series.label(b.from)}
            </text>
          ) : null,
        )}
        {kind === 'bar'
          ? values.map((v, i) => (v ? <rect class="bar" x={x(i) - barW / 2} y={y(v)} width={barW} height={PAD.top + innerH - y(v)} /> : null))
          : (
            <>
              {paths.map((d) => (
                <path class="line" d={d} />
              ))}
              {points.map((p) => (p ? <circle class="dot" cx={p[0]} cy={p[1]} r={3} /> : null))}
            </>
          )}
      </svg>
      <p id={`${id}-summary`} class="muted small">
        {summary}
      </p>
      <details>
        <summary>Show as a table</summary>
        <div class="table-scroll" tabIndex={0} role="region" aria-label={`${title}: table`}>
          <table>
            <caption class="visually-hidden">{title}</caption>
            <thead>
              <tr>
                <th scope="col">Period starting</th>
                <th scope="col">{title}</th>
              </tr>
            </thead>
            <tbody>
              {series.buckets.map((b, i) => (
                <tr>
                  <td>{series.label(b.from)}</td>
                  <td>{values[i] === null ? '—' : format(values[i]!)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </details>
    </figure>
  );
}

const ms = (v: number) => (v >= 1000 ? `${(v / 1000).toFixed(1)} s` : `${Math.round(v)} ms`);
const minutes = (v: number) => (v >= 60 ? formatDuration(v * 60) : `${Math.round(v * 10) / 10} min`);

export function Analytics() {
  const { params } = useRoute();
  const titleId = params.titleId;
  const [range, setRange] = useState<Range>('week');
  const [title, setTitle] = useState<Title>();
  const [total, setTotal] = useState<AnalyticsReport>();
  const [series, setSeries] = useState<Series>();
  const [error, setError] = useState<unknown>();
  const [generation, setGeneration] = useState(0);
  useTitle(title ? `Analytics of ${title.title}` : 'Analytics');

  useEffect(() => {
    get<Title>(`/v1/titles/${titleId}`).then(setTitle).catch(setError);
  }, [titleId]);

  useEffect(() => {
    const { bucket, count } = RANGES[range];
    const controller = new AbortController();
    // Hours end at the next whole hour; days at the next local midnight, so the last one is today.
    let end = Math.ceil(Date.now() / HOUR) * HOUR;
    if (bucket === DAY) {
      const midnight = new Date();
      midnight.setHours(24, 0, 0, 0);
      end = midnight.getTime();
    }
    const start = end - bucket * count;
    const report = (from: number, to: number) =>
      get<AnalyticsReport>(withQuery(`/v1/analytics/titles/${titleId}`, { from, to }), { signal: controller.signal });
    setSeries(undefined);
    setTotal(undefined);
    setError(undefined);
    Promise.all([
      report(start, end),
      mapLimited(
        Array.from({ length: count }, (_, i) => start + i * bucket),
        6,
        (from) => report(from, from + bucket),
      ),
    ])
      .then(([all, buckets]) => {
        setTotal(all);
        setSeries({ label: bucketLabel(range), buckets });
      })
      .catch((e) => {
        if (!controller.signal.aborted) setError(e);
      });
    return () => controller.abort();
  }, [titleId, range, generation]);

  const name = title?.title ?? 'this title';
  return (
    <StudioPage>
      <p class="small">
        <a href="/studio/titles">Titles</a> › {title && <a href={`/studio/titles/${titleId}`}>{title.title}</a>}
      </p>
      <h1>Analytics{title ? `: ${title.title}` : ''}</h1>
      <div class="row spread">
        <div class="field">
          <label for="analytics-range">Period</label>
          <select id="analytics-range" value={range} onChange={(e) => setRange(e.currentTarget.value as Range)}>
            {Object.entries(RANGES).map(([value, r]) => (
              <option value={value}>{r.label}</option>
            ))}
          </select>
        </div>
        <button type="button" class="secondary" onClick={() => setGeneration((g) => g + 1)}>
          Refresh
        </button>
      </div>
      {error !== undefined && <ErrorNotice error={error} title="Could not load the analytics." />}
      {!total && error === undefined && <Loading label="Loading the analytics…" />}
      {total && (
        <dl class="summary" aria-label={`Totals over the ${RANGES[range].label.toLowerCase()}`}>
          <div>
            <dt>Views</dt>
            <dd data-metric="views">{total.views}</dd>
          </div>
          <div>
            <dt>Unique viewers</dt>
            <dd>{total.unique_viewers}</dd>
          </div>
          <div>
            <dt>Watch time</dt>
            <dd>{formatDuration(total.watch_time_ms / 1000)}</dd>
          </div>
          <div>
            <dt>Startup time (median)</dt>
            <dd>{total.startup_time_p50_ms != null ? ms(total.startup_time_p50_ms) : '—'}</dd>
          </div>
          <div>
            <dt>Rebuffering</dt>
            <dd>{total.rebuffer_percentage != null ? `${total.rebuffer_percentage.toFixed(1)} %` : '—'}</dd>
          </div>
          <div>
            <dt>Playback errors</dt>
            <dd>{total.error_rate != null ? `${(total.error_rate * 100).toFixed(1)} %` : '—'}</dd>
          </div>
        </dl>
      )}
      {total && total.views === 0 && (
        <p class="notice">
          No views of {name} in this period yet. Views show here a moment after someone plays it; share its page or{' '}
          <a href={`/watch/${titleId}`}>play it yourself</a>.
        </p>
      )}
      {series && (
        <div class="charts">
          <Chart id="views" title="Views" unit={range === 'day' ? 'hour' : 'day'} series={series} value={(r) => r.views} format={(v) => String(Math.round(v))} kind="bar" />
          <Chart
            id="watch-time"
            title="Watch time (minutes)"
            unit={range === 'day' ? 'hour' : 'day'}
            series={series}
            value={(r) => r.watch_time_ms / 60000}
            format={minutes}
            kind="bar"
          />
          <Chart id="startup" title="Startup time (median)" unit="" series={series} value={(r) => r.startup_time_p50_ms} format={ms} kind="line" />
          <Chart
            id="rebuffering"
            title="Rebuffering (% of watch time)"
            unit=""
            series={series}
            value={(r) => r.rebuffer_percentage}
            format={(v) => `${v.toFixed(1)} %`}
            kind="line"
          />
        </div>
      )}
    </StudioPage>
  );
}
