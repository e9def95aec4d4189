// The watch page and the player in a real browser, on a phone and a desktop: the sample title plays with
// hls.js and with dash.js (?engine=dash) at a rung's size, the quality menu switches renditions, space pauses,
// a reload offers to resume, fresh playback tokens are swapped in (and a refused refresh stops playback in
// words), the beacons reach the analytics, a view left part way shows in "Continue watching" on home and resumes
// from the API's position, and a private title without entitlement is refused in words.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  api,
  assertAccessible,
  assertNoProblems,
  DESKTOP,
  launchBrowser,
  openPage,
  PHONE,
  screenshot,
  signIn,
  startMarquee,
  token,
  waitFor,
} from './harness.mjs';

const VIEWER = { email: 'player-viewer@example.com', password: 'a long enough password' };
/** Viewers with no history of their own: one for the token test (no resume prompt in its way), one who stops part way. */
const TOKENS_VIEWER = { email: 'player-tokens@example.com', password: 'a long enough password' };
const WATCHER = { email: 'player-watcher@example.com', password: 'a long enough password' };
/** Chromium logs a refused request as a console error; the page says it in words, which the test checks. */
const REFUSALS = [/status of 40[13]/];

let marquee;
let browser;
let adminToken;
/** The sample: its title, its asset and the asset's rungs ({ height → width }). */
let sample;
/** A title whose (signed) asset nobody has bought. */
let privateTitle;

before(async () => {
  [marquee, browser] = await Promise.all([startMarquee(), launchBrowser()]);
  // startMarquee resolves on the address line; the admin's line may come a moment later (harness race).
  const admin = await waitFor('the admin credentials', () => /made the admin (\S+) with the password (\S+)/.exec(marquee.output()));
  marquee.admin ??= { email: admin[1], password: admin[2] };
  adminToken = await token(marquee.url, marquee.admin);
  // `marquee up` publishes the sample (the title, then its video) a moment after it starts serving.
  const title = await waitFor(
    'the sample title in the catalog, with its video',
    async () => {
      const found = (await api(marquee.url, 'GET', '/v1/titles')).items.find((t) => t.title === 'Marquee Sample');
      return found && (await api(marquee.url, 'GET', `/v1/titles/${found.id}`)).assets.some((a) => a.role === 'feature') && found;
    },
    { timeoutMs: 60_000, everyMs: 500 },
  );
  const detail = await api(marquee.url, 'GET', `/v1/titles/${title.id}`);
  const assetId = detail.assets.find((a) => a.role === 'feature').asset_id;
  const asset = await waitFor(
    'the sample to be transcoded',
    async () => {
      const a = await api(marquee.url, 'GET', `/v1/assets/${assetId}`, { token: adminToken });
      assert.notEqual(a.status, 'errored', `the sample failed: ${JSON.stringify(a.error)}`);
      return a.status === 'ready' && a;
    },
    { timeoutMs: 300_000, everyMs: 1000 },
  );
  const rungs = new Map(asset.renditions.map((r) => [r.height, r.width]));
  // The title takes its poster from its video once that is ready.
  const { artwork } = await api(marquee.url, 'GET', `/v1/titles/${title.id}`);
  assert.ok(artwork.poster_url, 'the sample title has a poster');
  sample = { titleId: title.id, assetId, rungs, poster: artwork.poster_url };

  // A signed asset in a title of its own. An upload begun and never finished is enough (entitlement is checked
  // before readiness), and it gives the worker no job.
  const upload = await fetch(`${marquee.url}/v1/uploads`, {
    method: 'POST',
    headers: { authorization: `Bearer ${adminToken}`, 'tus-resumable': '1.0.0', 'upload-length': '1000' },
  });
  assert.equal(upload.status, 201, await upload.text());
  const privateAsset = { id: upload.headers.get('marquee-asset-id') };
  privateTitle = await api(marquee.url, 'POST', '/v1/titles', { token: adminToken, body: { kind: 'movie', title: 'Private Screening' } });
  await api(marquee.url, 'PUT', `/v1/titles/${privateTitle.id}/assets`, {
    token: adminToken,
    body: { assets: [{ asset_id: privateAsset.id, role: 'feature' }] },
  });
  for (const body of [VIEWER, TOKENS_VIEWER, WATCHER]) await api(marquee.url, 'POST', '/v1/auth/register', { body });
});

after(async () => {
  await browser?.close();
  await marquee?.stop();
});

/** The player's state as the page shows it. */
function playerState(page) {
  return page.evaluate(() => {
    const player = document.querySelector('.player');
    const video = document.querySelector('.player video');
    if (!player || !video) return null;
    return {
      ...player.dataset,
      time: video.currentTime,
      paused: video.paused,
      muted: video.muted,
      width: video.videoWidth,
      height: video.videoHeight,
      poster: video.getAttribute('poster'),
    };
  });
}

async function waitForPlayer(page, what, predicate, timeout = 60_000) {
  await page.waitForFunction(predicate, undefined, { timeout, polling: 100 }).catch(async (e) => {
    throw new Error(`waiting for ${what}: ${e.message}\nplayer: ${JSON.stringify(await playerState(page))}\npage: ${await page.locator('main').innerText()}`);
  });
}

const currentTimeAbove = (seconds) => `(() => { const v = document.querySelector('.player video'); return v && v.currentTime > ${seconds}; })()`;
const phaseIs = (phase) => `document.querySelector('.player')?.dataset.phase === '${phase}'`;

for (const [name, viewport] of [
  ['desktop', DESKTOP],
  ['phone', PHONE],
]) {
  test(`the sample plays, pauses on space, resumes after a reload and switches quality (${name})`, async () => {
    const page = await openPage(browser, viewport);
    await signIn(page, marquee.url, name === 'desktop' ? marquee.admin : VIEWER);
    await page.goto(`${marquee.url}/watch/${sample.titleId}`);
    await page.getByRole('heading', { name: 'Marquee Sample', level: 1 }).waitFor();
    await waitForPlayer(page, 'playback to start', phaseIs('playing'));
    let state = await playerState(page);
    assert.equal(state.engine, 'hls');
    assert.equal(state.poster, sample.poster, 'the title poster is shown while loading');
    await waitForPlayer(page, 'a frame', `document.querySelector('.player video').videoHeight > 0`);
    state = await playerState(page);
    assert.equal(sample.rungs.get(state.height), state.width, `the picture is a rung's size (${state.width}x${state.height})`);
    await screenshot(page, `watch-playing-${name}`);
    await assertAccessible(page, `watch page playing (${name})`);

    // Space pauses (the page has focus, not a control), m mutes.
    await waitForPlayer(page, 'a few seconds of playback', currentTimeAbove(3));
    await page.keyboard.press('Space');
    await waitForPlayer(page, 'the pause', phaseIs('paused'));
    state = await playerState(page);
    assert.equal(state.paused, true);
    assert.ok(state.time < 8, `paused at ${state.time} s, before the end`);
    await page.getByRole('button', { name: 'Play', exact: true }).first().waitFor();
    await page.keyboard.press('m');
    await page.getByRole('button', { name: 'Unmute' }).waitFor();
    assert.equal((await playerState(page)).muted, true);
    await page.keyboard.press('m');
    await page.getByRole('button', { name: 'Mute', exact: true }).waitFor();
    // Arrows seek 5 s.
    await page.keyboard.press('ArrowLeft');
    const back = await playerState(page);
    assert.ok(Math.abs(back.time - Math.max(0, state.time - 5)) < 0.3, `ArrowLeft from ${state.time} s went to ${back.time} s`);
    await page.keyboard.press('ArrowRight');
    state = await playerState(page);
    assert.ok(Math.abs(state.time - (back.time + 5)) < 0.3, `ArrowRight from ${back.time} s went to ${state.time} s`);

    // A reload offers to resume where it stopped.
    const pausedAt = Math.floor(state.time);
    await page.reload();
    const resume = page.getByRole('button', { name: /^Resume from 0:0\d$/ });
    await resume.waitFor();
    assert.equal(await resume.innerText(), `Resume from 0:0${pausedAt}`);
    await page.getByRole('button', { name: 'Start over' }).waitFor();
    await screenshot(page, `watch-resume-${name}`);
    await assertAccessible(page, `resume prompt (${name})`);
    await resume.click();
    await waitForPlayer(page, 'playback to resume', phaseIs('playing'));
    assert.ok((await playerState(page)).time >= pausedAt - 1, 'it resumed where it stopped, not at 0');

    // The quality menu: a real menu button, its items the rungs; choosing one plays that rendition.
    const now = (await playerState(page)).height;
    const target = now === 240 ? 720 : 240;
    const menuButton = page.getByRole('button', { name: /^Quality: Auto/ });
    if (name === 'desktop') {
      await menuButton.focus();
      await page.keyboard.press('Enter');
      assert.equal(await menuButton.getAttribute('aria-expanded'), 'true');
      assert.equal(await menuButton.getAttribute('aria-haspopup'), 'menu');
      const items = page.getByRole('menuitemradio');
      const texts = await items.allInnerTexts();
      assert.match(texts[0], /^Auto \(now \d+p\)$/);
      assert.deepEqual(
        texts.slice(1).map((t) => t.replace(/ · .*/, '')),
        [...sample.rungs.keys()].sort((a, b) => b - a).map((h) => `${h}p`),
      );
      assert.match(texts[1], /^\d+p · \d+\.\d Mb\/s$|^\d+p · \d+ kb\/s$/);
      await assertAccessible(page, 'watch page with the quality menu open');
      await screenshot(page, 'watch-quality-menu-desktop');
      await page.keyboard.press('Escape');
      assert.equal(await menuButton.getAttribute('aria-expanded'), 'false');
      assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('aria-haspopup')), 'menu', 'Escape gives focus back to the button');
      // Again, by keyboard: arrows down to the rung, Enter.
      await page.keyboard.press('ArrowDown');
      await page.getByRole('menu').waitFor();
      for (;;) {
        const focused = await page.evaluate(() => document.activeElement?.textContent ?? '');
        if (focused.startsWith(`${target}p`)) break;
        await page.keyboard.press('ArrowDown');
      }
      await page.keyboard.press('Enter');
    } else {
      await menuButton.click();
      await screenshot(page, 'watch-quality-menu-phone');
      await page.getByRole('menuitemradio', { name: new RegExp(`^${target}p`) }).click();
    }
    await page.getByRole('button', { name: `Quality: ${target}p` }).waitFor();
    await waitForPlayer(page, `the ${target}p rendition on screen`, `(() => { const v = document.querySelector('.player video'); const p = document.querySelector('.player'); return v.videoHeight === ${target} && p.dataset.renditionHeight === '${target}'; })()`);
    state = await playerState(page);
    assert.equal(state.width, sample.rungs.get(target));
    assert.equal(state.auto, 'false');

    // It plays on past several segments (4 s each) to the end.
    await waitForPlayer(page, 'several segments played', currentTimeAbove(8.5));
    await waitForPlayer(page, 'the end', phaseIs('ended'));
    await page.getByRole('button', { name: 'Play again' }).waitFor();
    assertNoProblems(page);

    // dash.js plays it too.
    await page.goto(`${marquee.url}/watch/${sample.titleId}?engine=dash`);
    await waitForPlayer(page, 'dash.js playback', `${phaseIs('playing')} && document.querySelector('.player').dataset.engine === 'dash'`);
    await waitForPlayer(page, 'dash.js to play a few seconds', currentTimeAbove(4.5));
    state = await playerState(page);
    assert.equal(sample.rungs.get(state.height), state.width, `dash.js shows a rung's size (${state.width}x${state.height})`);
    await screenshot(page, `watch-dash-${name}`);
    // Leaving the page sends the last beacons.
    await page.goto(`${marquee.url}/`);
    assertNoProblems(page);
    await page.context().close();
  });
}

test('fresh playback tokens are swapped in while playing; a refused refresh stops playback in words', async () => {
  const page = await openPage(browser, DESKTOP);
  // VIEWER stopped the sample part way in the test before: they would be offered to resume first.
  await signIn(page, marquee.url, TOKENS_VIEWER);
  const tokenOf = (url) => /\/t\/([^/]+)\//.exec(url)?.[1];
  const tokens = [];
  let refuse = false;
  await page.route('**/v1/assets/*/playback', async (route) => {
    if (refuse && tokens.length > 0) {
      await route.fulfill({
        status: 403,
        contentType: 'application/json',
        body: JSON.stringify({ error: { code: 'not_subscribed', message: 'no subscription, rental or purchase of yours covers this title', request_id: 'test' } }),
      });
      return;
    }
    const response = await route.fetch();
    const body = await response.json();
    tokens.push(tokenOf(body.hls_url));
    // The first answer asks for a refresh in 2 s (instead of 4 minutes), the next not for an hour.
    body.refresh_at = Math.floor(Date.now() / 1000) + (tokens.length === 1 ? 2 : 3600);
    await route.fulfill({ response, json: body });
  });
  const segments = [];
  page.on('request', (request) => {
    if (request.url().endsWith('.m4s')) segments.push(request.url());
  });

  await page.goto(`${marquee.url}/watch/${sample.titleId}`);
  await waitForPlayer(page, 'playback', phaseIs('playing'));
  await waitForPlayer(page, 'the token refresh', `document.querySelector('.player').dataset.refreshes === '1'`);
  assert.equal(tokens.length, 2);
  assert.notEqual(tokens[0], tokens[1], 'the refresh brought a new token');
  assert.equal((await playerState(page)).phase, 'playing', 'playback went on through the refresh');
  // Segments fetched from now on carry the new token: switch rendition to make it fetch some.
  const before = segments.length;
  const now = (await playerState(page)).height;
  await page.getByRole('button', { name: /^Quality/ }).click();
  await page.getByRole('menuitemradio', { name: new RegExp(`^${now === 360 ? 480 : 360}p`) }).click();
  await waitFor('segments after the refresh', () => segments.length > before, { timeoutMs: 30_000 });
  for (const url of segments.slice(before)) assert.equal(tokenOf(url), tokens[1], `${url} carries the fresh token`);

  // Next time, the refresh is refused (the subscription ended): playback stops with the reason.
  refuse = true;
  tokens.length = 0;
  await page.goto(`${marquee.url}/watch/${sample.titleId}?engine=dash`);
  await waitForPlayer(page, 'playback', phaseIs('playing'));
  refuse = true;
  const alert = page.getByRole('alert');
  await alert.waitFor({ timeout: 30_000 });
  assert.match(await alert.innerText(), /This title needs a plan or a rental/);
  assert.match(await alert.innerText(), /Playback stopped/);
  assert.equal(await page.locator('.player').count(), 0, 'the player is gone');
  await screenshot(page, 'watch-refresh-refused');
  assertNoProblems(page, REFUSALS);
  await page.context().close();
});

test('a playback error is said in words, and Retry plays again', async () => {
  const page = await openPage(browser, PHONE);
  // The media server is slow, then refuses the video (as an edge would with an expired token).
  let release;
  const released = new Promise((resolve) => (release = resolve));
  await page.route('**/master.m3u8', async (route) => {
    await released;
    await route.fulfill({ status: 403, contentType: 'text/plain', body: 'expired' });
  });
  await page.goto(`${marquee.url}/watch/${sample.titleId}`);
  // Meanwhile: the poster, the title's name and a loading indicator.
  await page.getByRole('status').filter({ hasText: 'Loading the video…' }).waitFor();
  assert.equal(await page.locator('.player video').getAttribute('poster'), sample.poster);
  assert.equal(await page.locator('.player-title').innerText(), 'Marquee Sample');
  await screenshot(page, 'watch-loading-phone');
  release();
  const alert = page.getByRole('alert');
  await alert.waitFor({ timeout: 30_000 });
  assert.match(await alert.innerText(), /The video stopped\. The video server refused it \(403\)/);
  await assertAccessible(page, 'watch page with a playback error');
  await screenshot(page, 'watch-playback-error-phone');
  await page.unroute('**/master.m3u8');
  await alert.getByRole('button', { name: 'Retry' }).click();
  await waitForPlayer(page, 'playback after Retry', phaseIs('playing'));
  assertNoProblems(page, [/status of 403/]);
  await page.context().close();
});

for (const [name, viewport] of [
  ['desktop', DESKTOP],
  ['phone', PHONE],
]) {
test(`audio and subtitle menus appear when the stream has them, and switch tracks (${name})`, async () => {
  const page = await openPage(browser, viewport);
  // The sample has one audio track and no subtitles: give its master playlist a second (same) audio rendition
  // and an English subtitle track, served here.
  await page.route('**/master.m3u8', async (route) => {
    const response = await route.fetch();
    const text = (await response.text())
      .replace(
        /(#EXT-X-MEDIA:TYPE=AUDIO[^\n]*\n)/,
        '$1#EXT-X-MEDIA:TYPE=AUDIO,URI="audio_aac/index.m3u8",GROUP-ID="audio",LANGUAGE="fr",NAME="Français",DEFAULT=NO,AUTOSELECT=YES,CHANNELS="2"\n' +
          '#EXT-X-MEDIA:TYPE=SUBTITLES,URI="subs_en/index.m3u8",GROUP-ID="subs",LANGUAGE="en",NAME="English",DEFAULT=NO,AUTOSELECT=NO\n',
      )
      .replace(/AUDIO="audio"/g, 'AUDIO="audio",SUBTITLES="subs"');
    await route.fulfill({ response, body: text });
  });
  await page.route('**/subs_en/index.m3u8', (route) =>
    route.fulfill({
      contentType: 'application/vnd.apple.mpegurl',
      body: '#EXTM3U\n#EXT-X-TARGETDURATION:11\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXTINF:10.5,\nsubs.vtt\n#EXT-X-ENDLIST\n',
    }),
  );
  await page.route('**/subs_en/subs.vtt', (route) =>
    route.fulfill({ contentType: 'text/vtt', body: 'WEBVTT\n\n00:00:00.000 --> 00:00:10.000\nColour bars, a steady tone.\n' }),
  );
  await page.goto(`${marquee.url}/watch/${sample.titleId}`);
  await waitForPlayer(page, 'playback', phaseIs('playing'));

  const audio = page.getByRole('button', { name: /^Audio: / });
  await audio.click();
  assert.deepEqual(await page.getByRole('menuitemradio').allInnerTexts(), ['Main', 'Français']);
  await page.getByRole('menuitemradio', { name: 'Français' }).click();
  await page.getByRole('button', { name: 'Audio: Français' }).waitFor();

  const subtitles = page.getByRole('button', { name: 'Subtitles: Off, CC' });
  await subtitles.click();
  assert.deepEqual(await page.getByRole('menuitemradio').allInnerTexts(), ['Off', 'English']);
  await assertAccessible(page, `watch page with the subtitles menu open (${name})`);
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('Enter');
  await page.getByRole('button', { name: 'Subtitles: English, CC' }).waitFor();
  await waitForPlayer(
    page,
    'the English subtitles showing',
    `[...document.querySelector('.player video').textTracks].some((t) => t.label === 'English' && t.mode === 'showing')`,
  );
  await screenshot(page, `watch-subtitles-${name}`);
  assertNoProblems(page);
  await page.context().close();
});
}

test('a private title is refused in words: sign in first, then a plan or a rental', async () => {
  for (const [name, viewport] of [
    ['phone', PHONE],
    ['desktop', DESKTOP],
  ]) {
    const page = await openPage(browser, viewport);
    const path = `/watch/${privateTitle.id}`;
    await page.goto(marquee.url + path);
    let alert = page.getByRole('alert');
    await alert.waitFor();
    assert.match(await alert.innerText(), /Sign in to watch/);
    assert.equal(await alert.getByRole('link', { name: 'Sign in' }).getAttribute('href'), `/signin?next=${encodeURIComponent(path)}`);
    await assertAccessible(page, `private title, signed out (${name})`);
    await screenshot(page, `watch-signed-out-${name}`);

    await signIn(page, marquee.url, VIEWER);
    await page.goto(marquee.url + path);
    alert = page.getByRole('alert');
    await alert.getByRole('heading', { name: 'This title needs a plan or a rental' }).waitFor();
    assert.equal(await alert.getByRole('link', { name: 'See plans' }).getAttribute('href'), `/plans?next=${encodeURIComponent(path)}`);
    assert.equal(await alert.getByRole('link', { name: /^Rent or buy/ }).getAttribute('href'), `/titles/${privateTitle.id}`);
    assert.equal(await page.locator('.player').count(), 0);
    await assertAccessible(page, `private title, not entitled (${name})`);
    await screenshot(page, `watch-not-entitled-${name}`);
    assertNoProblems(page, REFUSALS);
    await page.context().close();
  }
});

test('a view left part way shows in "Continue watching" on home, and resumes from the API\'s position', async () => {
  const page = await openPage(browser, PHONE);
  await signIn(page, marquee.url, WATCHER);
  await page.getByRole('region', { name: 'Newest' }).waitFor();
  assert.equal(await page.getByRole('region', { name: 'Continue watching' }).count(), 0, 'nothing started, no row');

  await page.goto(`${marquee.url}/watch/${sample.titleId}`);
  await waitForPlayer(page, 'playback', phaseIs('playing'));
  await waitForPlayer(page, 'a few seconds of playback', currentTimeAbove(3));
  await page.keyboard.press('Space');
  await waitForPlayer(page, 'the pause', phaseIs('paused'));
  const stoppedAt = Math.floor((await playerState(page)).time);
  // Leaving sends the last beacons (pagehide); the analytics stores them a moment later.
  await page.goto(`${marquee.url}/`);
  const apiSays = () =>
    page.evaluate(async () => {
      const { access_token } = JSON.parse(localStorage.getItem('marquee.tokens'));
      const response = await fetch('/v1/me/continue-watching', { headers: { authorization: `Bearer ${access_token}` } });
      return (await response.json()).items;
    });
  const item = await waitFor('the stop in the API\'s continue watching', async () => (await apiSays()).find((i) => Math.floor(i.position_seconds) === stoppedAt), {
    timeoutMs: 30_000,
    everyMs: 300,
  });
  await page.reload();
  const row = page.getByRole('region', { name: 'Continue watching' });
  const card = row.getByRole('link', { name: /Marquee Sample/ });
  await card.waitFor();
  assert.equal(await page.locator('main section.title-row').first().getAttribute('aria-labelledby'), 'row-continue-watching', 'the first row');
  assert.match(await card.innerText(), new RegExp(`0:0${stoppedAt} of 0:10`));
  assert.equal(await card.getAttribute('href'), `/watch/${sample.titleId}?asset=${sample.assetId}`);
  const bar = await card.locator('.continue-bar > span').evaluate((el) => el.style.width);
  assert.equal(bar, `${Math.round((item.position_seconds / item.duration_seconds) * 100)}%`, 'the bar shows how far');
  await assertAccessible(page, 'home with continue watching (phone)');
  await screenshot(page, 'home-continue-watching-phone');

  // This browser's own record forgotten (as on another device): the resume offer comes from the API.
  await page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('marquee.position.')).forEach((k) => localStorage.removeItem(k)));
  await card.click();
  const resume = page.getByRole('button', { name: `Resume from 0:0${stoppedAt}` });
  await resume.waitFor();
  await resume.click();
  await waitForPlayer(page, 'playback to resume', phaseIs('playing'));
  assert.ok((await playerState(page)).time >= stoppedAt - 1, 'it resumed where the API said, not at 0');
  assertNoProblems(page);
  await page.context().close();
});

test('the beacons reached the analytics', async () => {
  // Two views per viewport test (hls.js to the end, dash.js until the page was left), and the token test's.
  const report = await waitFor(
    'the views in the asset analytics',
    async () => {
      const r = await api(marquee.url, 'GET', `/v1/analytics/assets/${sample.assetId}`, { token: adminToken });
      return r.views >= 4 && r.startup_time_p50_ms != null && r.average_bitrate_bps != null && r;
    },
    { timeoutMs: 30_000, everyMs: 500 },
  );
  assert.ok(report.watch_time_ms > 10_000, `watch time ${report.watch_time_ms} ms`);
  assert.ok(report.unique_viewers >= 2, `unique viewers ${report.unique_viewers}`);
  assert.ok(report.error_rate > 0 && report.error_rate < 0.5, `the one failed view counts as an error (${report.error_rate})`);
  assert.equal(report.exits_before_start, 1, 'only the failed view left before its first frame');
});
