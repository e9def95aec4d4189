#!/usr/bin/env node
// Marquee browser harness: proves real players (hls.js, dash.js) play a
// transcoder output directory, or manifests a server serves, in headless Chromium.
//
//   node browser-tests/play.mjs DIR [--protocol hls|dash|both] [--seconds N]
//        [--timeout-s N] [--allow-error REGEX]... [--no-switch]
//        [--chromium PATH] [--verbose]
//   node browser-tests/play.mjs [--hls-url URL] [--dash-url URL] [options as above]
//
// DIR must hold master.m3u8 (for hls) and/or manifest.mpd (for dash); it is
// served by a media server started here. With --hls-url/--dash-url the players
// load those manifests from wherever they point (marquee origin or edge).
// Prints one JSON line per protocol on stdout; diagnostics go to stderr.
// Exit: 0 every requested protocol played; 1 a protocol failed; 2 usage/setup
// error; 3 the global watchdog fired.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createMediaServer, createAppServer, closeServer } from './lib/server.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const NM = path.join(HERE, 'node_modules');

const USAGE = `usage: play.mjs DIR [--protocol hls|dash|both] [--seconds N] [--timeout-s N]
                [--allow-error REGEX]... [--no-switch] [--chromium PATH] [--verbose]
       play.mjs [--hls-url URL] [--dash-url URL] [the same options]

  --hls-url      play this HLS multivariant playlist URL instead of DIR/master.m3u8
  --dash-url     play this DASH MPD URL instead of DIR/manifest.mpd
                 (with either, no media server is started: the URL's server is tested,
                 and the protocols played are the ones given a URL)

  --protocol     which manifest(s) to play (default both: master.m3u8 and manifest.mpd)
  --seconds      playback that must happen (default min(4, duration - 0.5)); reaching the
                 end of the presentation also counts
  --timeout-s    per-protocol limit for playback to get there (default 90)
  --allow-error  regex; a NON-fatal error whose text matches is reported but does not
                 fail the run (repeatable; default none). Fatal errors always fail.
  --no-switch    do not force a quality switch (default: force one, needs >= 2 video renditions)
  --chromium     browser binary (default $CHROMIUM_PATH or /usr/bin/chromium)
  --verbose      print the in-page timeline and media request log to stderr`;

function die(msg, code = 2) {
  process.stderr.write(`play.mjs: ${msg}\n`);
  process.exit(code);
}

function parseArgs(argv) {
  const o = {
    dir: null,
    urls: {},
    protocols: ['hls', 'dash'],
    seconds: null,
    timeoutS: 90,
    allow: [],
    doSwitch: true,
    chromium: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
    verbose: false,
  };
  const need = (i, name) => {
    if (i + 1 >= argv.length) die(`${name} needs a value\n${USAGE}`);
    return argv[i + 1];
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    switch (a) {
      case '-h':
      case '--help':
        process.stdout.write(USAGE + '\n');
        process.exit(0);
        break;
      case '--protocol': {
        const v = need(i++, a);
        if (v === 'both') o.protocols = ['hls', 'dash'];
        else if (v === 'hls' || v === 'dash') o.protocols = [v];
        else die(`--protocol must be hls, dash or both, not ${JSON.stringify(v)}`);
        break;
      }
      case '--seconds': {
        const v = Number(need(i++, a));
        if (!(v > 0)) die('--seconds must be a positive number');
        o.seconds = v;
        break;
      }
      case '--timeout-s': {
        const v = Number(need(i++, a));
        if (!(v > 0 && v <= 3600)) die('--timeout-s must be in (0, 3600]');
        o.timeoutS = v;
        break;
      }
      case '--allow-error': {
        const v = need(i++, a);
        try {
          o.allow.push(new RegExp(v));
        } catch (e) {
          die(`bad --allow-error regex: ${e.message}`);
        }
        break;
      }
      case '--hls-url':
      case '--dash-url': {
        const v = need(i++, a);
        let u;
        try {
          u = new URL(v);
        } catch {
          die(`${a} must be an absolute URL, not ${JSON.stringify(v)}`);
        }
        if (u.protocol !== 'http:' && u.protocol !== 'https:') die(`${a} must be an http(s) URL`);
        o.urls[a === '--hls-url' ? 'hls' : 'dash'] = u.href;
        break;
      }
      case '--no-switch':
        o.doSwitch = false;
        break;
      case '--chromium':
        o.chromium = need(i++, a);
        break;
      case '--verbose':
        o.verbose = true;
        break;
      default:
        if (a.startsWith('-')) die(`unknown option ${a}\n${USAGE}`);
        if (o.dir) die(`only one DIR expected\n${USAGE}`);
        o.dir = a;
    }
  }
  const urlProtocols = Object.keys(o.urls);
  if (urlProtocols.length) {
    if (o.dir) die(`give DIR or --hls-url/--dash-url, not both\n${USAGE}`);
    o.protocols = ['hls', 'dash'].filter((p) => o.urls[p]);
  } else if (!o.dir) {
    die(`DIR (or --hls-url/--dash-url) is required\n${USAGE}`);
  }
  return o;
}

const opts = parseArgs(process.argv.slice(2));
const MANIFEST = { hls: 'master.m3u8', dash: 'manifest.mpd' };

const remote = !opts.dir;
if (!remote && (!fs.existsSync(opts.dir) || !fs.statSync(opts.dir).isDirectory())) die(`not a directory: ${opts.dir}`);
if (!fs.existsSync(opts.chromium)) {
  die(`chromium not found at ${opts.chromium} (apt-get install -y chromium, or pass --chromium / CHROMIUM_PATH)`);
}
const LIBS = {
  '/lib/hls.min.js': path.join(NM, 'hls.js/dist/hls.min.js'),
  '/lib/dash.mediaplayer.min.js': path.join(NM, 'dashjs/dist/modern/umd/dash.mediaplayer.min.js'),
};
for (const f of Object.values(LIBS)) {
  if (!fs.existsSync(f)) die(`missing ${path.relative(process.cwd(), f)}: run \`npm ci --prefix browser-tests\``);
}
let chromium;
try {
  ({ chromium } = await import('playwright-core'));
} catch (e) {
  die(`cannot load playwright-core (${e.message}): run \`npm ci --prefix browser-tests\``);
}

// ---------------------------------------------------------------- watchdog
// The whole run stops by itself: browser launch + per-protocol budget + slack.
const LAUNCH_TIMEOUT_MS = 90_000;
const perProtocolMs = opts.timeoutS * 1000 + 30_000;
const watchdogMs = LAUNCH_TIMEOUT_MS + opts.protocols.length * perProtocolMs + 30_000;
let context = null;
let userDataDir = null;
const servers = [];

async function cleanup() {
  const c = context;
  context = null;
  if (c) await Promise.race([c.close().catch(() => {}), new Promise((r) => setTimeout(r, 15_000))]);
  for (const s of servers.splice(0)) await closeServer(s).catch(() => {});
  if (userDataDir) {
    try {
      fs.rmSync(userDataDir, { recursive: true, force: true });
    } catch {
      /* ignore */
    }
    userDataDir = null;
  }
}

const watchdog = setTimeout(() => {
  process.stderr.write(`play.mjs: watchdog: run exceeded ${Math.round(watchdogMs / 1000)}s, aborting\n`);
  // playwright kills the browser it launched when this process exits
  cleanup().finally(() => process.exit(3));
  setTimeout(() => process.exit(3), 20_000).unref();
}, watchdogMs);
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    cleanup().finally(() => process.exit(130));
  });
}

// ------------------------------------------------------------------ servers
// In DIR mode the media server logs every request; with URLs the page's own network events do (below).
const mediaLog = [];
const appLog = [];
const media = remote ? null : await createMediaServer(opts.dir, { log: mediaLog });
if (media) servers.push(media.server);
const app = await createAppServer(
  {
    '/': path.join(HERE, 'page/index.html'),
    '/index.html': path.join(HERE, 'page/index.html'),
    '/harness.js': path.join(HERE, 'page/harness.js'),
    ...LIBS,
  },
  { log: appLog },
);
servers.push(app.server);
const mediaWhere = media ? `${media.origin}/media/ (dir ${path.resolve(opts.dir)})` : Object.values(opts.urls).map(shortUrl).join(' ');
process.stderr.write(`play.mjs: media ${mediaWhere}, page ${app.origin}/\n`);

// ------------------------------------------------------------------ browser
userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'marquee-chromium-'));
try {
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: opts.chromium,
    headless: true,
    timeout: LAUNCH_TIMEOUT_MS,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-dev-shm-usage',
      '--autoplay-policy=no-user-gesture-required',
    ],
    viewport: { width: 800, height: 450 },
  });
} catch (e) {
  await cleanup();
  die(`chromium failed to launch: ${e.message.split('\n')[0]}`);
}
process.stderr.write(`play.mjs: chromium ${context.browser()?.version?.() ?? ''} launched\n`);

// ---------------------------------------------------------------- protocols
function errorText(e) {
  return [e.source, e.type, e.details, e.message].filter((x) => x !== '' && x != null).join(' ');
}

// A URL for logs: a token path segment (/t/{token}/) shortened, so lines stay readable.
function shortUrl(u) {
  return u.replace(/\/t\/[^/]+\//, '/t/…/');
}

async function runProtocol(protocol) {
  const src = remote ? opts.urls[protocol] : `${media.origin}/media/${MANIFEST[protocol]}`;
  const base = { protocol, ok: false, manifest: remote ? shortUrl(src) : MANIFEST[protocol] };
  if (!remote && !fs.existsSync(path.join(opts.dir, MANIFEST[protocol]))) {
    return { ...base, reason: `${MANIFEST[protocol]} not found in ${opts.dir}`, errors: [] };
  }
  const logStart = mediaLog.length;
  const extraErrors = [];
  const page = await context.newPage();
  if (remote) {
    // The browser's view of every request to the media's server: statuses, and requests that failed
    // outright (a CORS refusal is one). Players abort requests they no longer need: not an error.
    const mediaOrigin = new URL(src).origin;
    const entry = (req, status) => {
      const e = { method: req.method(), path: shortUrl(req.url().slice(mediaOrigin.length)), status };
      const range = req.headers().range;
      if (range) e.range = range;
      return e;
    };
    page.on('response', (resp) => {
      if (resp.url().startsWith(mediaOrigin + '/')) mediaLog.push(entry(resp.request(), resp.status()));
    });
    page.on('requestfailed', (req) => {
      if (!req.url().startsWith(mediaOrigin + '/')) return;
      const failure = req.failure()?.errorText || 'failed';
      mediaLog.push({ ...entry(req, 0), failure });
      if (failure !== 'net::ERR_ABORTED') {
        extraErrors.push({ source: 'network', fatal: false, type: 'requestfailed', details: failure, message: shortUrl(req.url()) });
      }
    });
  }
  page.on('console', (msg) => {
    if (msg.type() === 'error') {
      const loc = msg.location();
      extraErrors.push({ source: 'console', fatal: false, type: 'error', details: '', message: `${msg.text()}${loc && loc.url ? ` (${loc.url.replace(app.origin, '')}:${loc.lineNumber})` : ''}`.slice(0, 500) });
    }
  });
  page.on('pageerror', (err) => {
    extraErrors.push({ source: 'page', fatal: true, type: 'uncaught', details: '', message: String(err.message).slice(0, 500) });
  });
  let crashed = false;
  page.on('crash', () => {
    crashed = true;
  });

  const params = new URLSearchParams({
    protocol,
    src,
    timeoutMs: String(opts.timeoutS * 1000),
    switch: opts.doSwitch ? '1' : '0',
  });
  if (opts.seconds != null) params.set('seconds', String(opts.seconds));

  let state = null;
  let harnessFailure = null;
  try {
    await page.goto(`${app.origin}/?${params}`, { waitUntil: 'load', timeout: 60_000 });
    await page.waitForFunction(() => window.__marquee && window.__marquee.done, null, {
      timeout: opts.timeoutS * 1000 + 20_000,
      polling: 250,
    });
  } catch (e) {
    harnessFailure = crashed ? 'page crashed' : `harness: ${e.message.split('\n')[0]}`;
  }
  try {
    state = await page.evaluate(() => window.__marquee || null);
  } catch (e) {
    harnessFailure = harnessFailure || `could not read page state: ${e.message.split('\n')[0]}`;
  }
  await page.close().catch(() => {});

  const reqs = mediaLog.slice(logStart);
  const httpErrors = reqs
    .filter((r) => r.status >= 400)
    .map((r) => ({ source: 'http', fatal: false, type: String(r.status), details: r.method, message: r.path }));

  const s = state || {};
  const all = [...(s.errors || []), ...extraErrors, ...httpErrors];
  const failing = [];
  const allowed = [];
  for (const e of all) {
    const text = `${protocol} ${errorText(e)}`;
    if (!e.fatal && opts.allow.some((re) => re.test(text))) allowed.push(e);
    else failing.push(e);
  }

  let ok = !!s.ok && !harnessFailure && failing.length === 0;
  let reason = harnessFailure || s.reason || 'no result from page';
  if (s.ok && !harnessFailure && failing.length) {
    reason = `played, but ${failing.length} error(s) not in the allowlist`;
  }
  const sw = s.switch || {};
  const summary = {
    protocol,
    ok,
    played: s.played ?? 0,
    target: s.target ?? null,
    duration: s.duration ?? null,
    ended: !!s.ended,
    levels: (s.levels || []).map((l) => ({ id: l.key, bitrate: l.bitrate, width: l.width, height: l.height, codecs: l.codecs })),
    levelsSeen: s.levelsPlayed || [],
    switched: !!sw.ok,
    switch: sw.wanted ? { from: sw.from, to: sw.to, requestedAt: sw.requestedAtTime, renderedAt: sw.renderedAtTime, playedAfter: sw.advancedAfter } : 'disabled',
    videoSizes: s.videoSizes || [],
    audioTracks: s.audioTracks ?? 0,
    decoded: s.decoded || null,
    errors: failing.map((e) => ({ source: e.source, fatal: e.fatal, text: errorText(e).slice(0, 300), at: e.ct })),
    allowedErrors: allowed.map((e) => ({ source: e.source, text: errorText(e).slice(0, 300) })),
    requests: { total: reqs.length, ranged: reqs.filter((r) => r.range).length, status: countBy(reqs, (r) => r.status) },
    player: s.playerVersion || null,
    mse: s.mse || null,
    rangeCheck: (s.serverCheck || []).map((c) => `${c.range} -> ${c.status} ${c.contentRange}`),
    reason,
  };
  if (!ok || opts.verbose) {
    process.stderr.write(`--- ${protocol}: ${ok ? 'PASS' : 'FAIL'}: ${reason}\n`);
    for (const e of failing) process.stderr.write(`    error: ${e.fatal ? '[fatal] ' : ''}${errorText(e)}\n`);
    const tl = s.timeline || [];
    const shown = opts.verbose ? tl : tl.slice(-25);
    if (shown.length) {
      process.stderr.write(`    timeline${shown.length < tl.length ? ` (last ${shown.length} of ${tl.length})` : ''}:\n`);
      for (const t of shown) {
        const { ms, what, ct, ...rest } = t;
        process.stderr.write(`      ${String(ms).padStart(6)}ms ct=${ct} ${what} ${Object.keys(rest).length ? JSON.stringify(rest) : ''}\n`);
      }
    }
    if (opts.verbose) {
      process.stderr.write('    media requests:\n');
      for (const r of reqs) process.stderr.write(`      ${r.status} ${r.method} ${r.path}${r.range ? ` [${r.range}]` : ''}${r.failure ? ` ${r.failure}` : ''}\n`);
    }
  }
  return summary;
}

function countBy(arr, f) {
  const out = {};
  for (const x of arr) {
    const k = f(x);
    out[k] = (out[k] || 0) + 1;
  }
  return out;
}

let allOk = true;
for (const protocol of opts.protocols) {
  let summary;
  try {
    summary = await runProtocol(protocol);
  } catch (e) {
    summary = { protocol, ok: false, reason: `harness exception: ${e.message.split('\n')[0]}`, errors: [] };
  }
  process.stdout.write(JSON.stringify(summary) + '\n');
  if (!summary.ok) allOk = false;
}

await cleanup();
clearTimeout(watchdog);
process.stderr.write(`play.mjs: ${allOk ? 'PASS' : 'FAIL'} (${opts.protocols.join(', ')})\n`);
process.exit(allOk ? 0 : 1);
