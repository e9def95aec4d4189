// The creator's studio in a real browser, as the admin: uploading a generated clip through the page with a
// reload in the middle (the upload resumes where it stopped), watching it transcode in the library to `ready`,
// creating a title for it, editing it (details, credits, poster, availability, an offer) and opening its
// analytics; on a phone, the library (with a failed asset said in words, retried and deleted) and the upload
// page. axe-core on every page, screenshots of each, no console errors.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import {
  api,
  assertAccessible,
  assertNoProblems,
  DESKTOP,
  launchBrowser,
  makeClip,
  openPage,
  PHONE,
  screenshot,
  signIn,
  startMarquee,
  throttleUploads,
  token,
  waitFor,
} from './harness.mjs';

let marquee;
let browser;
let dir;
let clip;
let poster;
/** The clip the first test uploads. */
let clipAssetId;

/** A few seconds of test pattern and tone, a few MB (so a throttled upload has a middle to reload in). */
function makeMedia() {
  dir = mkdtempSync(join(tmpdir(), 'marquee-studio-'));
  clip = join(dir, 'clip.mp4');
  poster = join(dir, 'poster.jpg');
  makeClip(clip, { seconds: 6, bitrate: '6M' });
  execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc=size=400x600', '-frames:v', '1', poster]);
}

before(async () => {
  makeMedia();
  [marquee, browser] = await Promise.all([startMarquee(), launchBrowser()]);
});
after(async () => {
  await browser?.close();
  await marquee?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const uploadFraction = (page) =>
  page.evaluate(() => {
    const bar = document.querySelector('.upload-row progress');
    return bar ? bar.value / bar.max : 0;
  });

test('the admin uploads a clip, reloads in the middle, resumes, and gives it a title (desktop)', async () => {
  const size = statSync(clip).size;
  assert.ok(size > 2_000_000, `the clip is ${size} bytes: too small to have a middle`);
  const admin = await token(marquee.url, marquee.admin);

  const page = await openPage(browser, DESKTOP);
  await signIn(page, marquee.url, marquee.admin);
  await page.getByRole('link', { name: 'Studio', exact: true }).click();
  await page.getByRole('heading', { name: 'Library' }).waitFor();
  await page.getByRole('link', { name: 'Upload', exact: true }).click();
  await page.getByRole('heading', { name: 'Upload videos' }).waitFor();
  await assertAccessible(page, 'upload page (desktop)');
  await screenshot(page, 'studio-upload-desktop');

  // Slowly, so that there is a middle; the progress bar, bytes, speed and time left show on the way.
  await throttleUploads(page, 300_000);
  await page.getByLabel('Choose video files').setInputFiles(clip);
  const bar = page.getByRole('progressbar', { name: 'clip.mp4' });
  await bar.waitFor();
  await waitFor('a quarter of the clip to be sent', async () => (await uploadFraction(page)) > 0.25, { timeoutMs: 60_000 });
  const facts = await page.locator('.upload-facts').innerText();
  assert.match(facts, /MB of \d+(\.\d)? MB · \d+ % · .*\/s · \d+:\d\d left/, facts);
  await screenshot(page, 'studio-upload-progress');

  // A reload in the middle: the page lists the unfinished upload and resumes it from the same file.
  await page.reload();
  await page.getByRole('heading', { name: 'Unfinished uploads' }).waitFor();
  await assertAccessible(page, 'upload page with an unfinished upload');
  await screenshot(page, 'studio-upload-unfinished');
  await throttleUploads(page, 2_000_000);
  await page.getByLabel('Choose clip.mp4 again to resume').setInputFiles(clip);
  const status = page.locator('.upload-row [role=status]');
  await status.filter({ hasText: /resumed at/ }).waitFor();
  const resumedAt = Number(/resumed at ([\d.]+) MB/.exec(await status.innerText())?.[1]);
  assert.ok(resumedAt > 0.5, `the upload went on from ${resumedAt} MB, not from where it stopped`);
  await page.locator('.upload-row[data-state=done]').waitFor({ timeout: 60_000 });
  await throttleUploads(page, -1);
  const open = page.getByRole('link', { name: 'Open clip.mp4' });
  const assetId = (await open.getAttribute('href')).split('/').pop();
  clipAssetId = assetId;
  // The resume went on with the same upload: no other asset is left waiting for its data.
  const assets = (await api(marquee.url, 'GET', '/v1/assets', { token: admin })).items;
  const summary = JSON.stringify(assets.map((a) => [a.id, a.status]));
  assert.ok(assets.some((a) => a.id === assetId), summary);
  assert.ok(!assets.some((a) => a.status === 'waiting_upload'), summary);

  // The library shows its transcode going on, then `ready`.
  await page.getByRole('link', { name: 'See their transcoding in the library' }).click();
  const row = page.locator(`[data-asset="${assetId}"]`);
  await row.waitFor();
  let sawProgress = false;
  let shot = false;
  await waitFor(
    'the clip to be ready in the library',
    async () => {
      const state = await row.getAttribute('data-status');
      if (state === 'queued' || state === 'processing') {
        if ((await row.getByRole('progressbar').count()) > 0) sawProgress = true;
        if (!shot && state === 'processing') {
          shot = true;
          await assertAccessible(page, 'library with a transcode in progress');
          await screenshot(page, 'studio-library-transcoding');
        }
      }
      return state === 'ready' || state === 'errored';
    },
    { timeoutMs: 240_000, everyMs: 250 },
  );
  assert.equal(await row.getAttribute('data-status'), 'ready', await row.innerText());
  assert.ok(sawProgress, 'no progress was shown while the clip was transcoding');
  await row.getByText('Ready', { exact: true }).waitFor();
  await row.getByText('0:06').waitFor();
  await row.locator('img').waitFor();
  await assertAccessible(page, 'library (desktop)');
  await screenshot(page, 'studio-library-desktop');

  // Its page: source facts, renditions, preview, and "Create a title for it".
  await row.getByRole('link', { name: 'clip.mp4' }).click();
  await page.getByRole('heading', { name: 'clip.mp4' }).waitFor();
  await page.getByText('1280 × 720').first().waitFor();
  assert.ok((await page.locator('table tbody tr').count()) >= 2, 'fewer than two renditions listed');
  await page.getByText('No title plays this video yet').waitFor();
  await assertAccessible(page, 'asset page');
  await screenshot(page, 'studio-asset');
  await page.getByRole('link', { name: 'Create a title for it' }).first().click();

  await page.getByRole('heading', { name: 'New title' }).waitFor();
  await assertAccessible(page, 'new title page');
  await page.getByLabel('Name', { exact: true }).fill('Test Pattern');
  await page.getByLabel('Year').fill('2026');
  await page.getByLabel('Genres').fill('Documentary, test');
  await page.getByLabel('Synopsis').fill('Bars and a tone.');
  await page.getByRole('button', { name: 'Create title' }).click();
  await page.getByRole('heading', { name: 'Test Pattern' }).waitFor();
  const titleId = new URL(page.url()).pathname.split('/').pop();
  assert.equal(await page.getByLabel('Feature (the film)').inputValue(), assetId);
  let detail = await api(marquee.url, 'GET', `/v1/titles/${titleId}`, { token: admin });
  assert.deepEqual(detail.assets, [{ asset_id: assetId, role: 'feature', playback_policy: 'signed' }]);
  assert.deepEqual(detail.genres, ['documentary', 'test']);

  // Edit it.
  await page.getByLabel('Synopsis').fill('Colour bars and a steady tone, edited.');
  await page.getByLabel('Maturity rating').selectOption('PG');
  await page.getByRole('button', { name: 'Save details' }).click();
  await page.locator('#details-heading ~ form .saved').filter({ hasText: 'Saved.' }).waitFor();
  detail = await api(marquee.url, 'GET', `/v1/titles/${titleId}`, { token: admin });
  assert.equal(detail.synopsis, 'Colour bars and a steady tone, edited.');
  assert.equal(detail.maturity_rating, 'PG');

  // A credit (a new person), a poster, unpublish and publish again, an offer.
  await page.getByLabel('Person').fill('Ada Lovelace');
  await page.getByLabel('Character').fill('Herself');
  await page.getByRole('button', { name: 'Add credit' }).click();
  await page.locator('.credit-list').getByText('Ada Lovelace').waitFor();
  await page.locator('#artwork-poster').setInputFiles(poster);
  await page.getByRole('img', { name: 'The poster of Test Pattern' }).waitFor();
  await page.getByText('Uploaded.', { exact: true }).first().waitFor();
  await page.getByRole('button', { name: 'Unpublish' }).click();
  await page.getByText('Not published: viewers cannot see or play it.').waitFor();
  await page.getByRole('button', { name: 'Publish now, everywhere' }).click();
  await page.getByText('Published: available to viewers now, everywhere.').waitFor();
  await page.getByLabel('Price').fill('3.99');
  await page.getByRole('button', { name: 'Add offer' }).click();
  await page.locator('.offer-list li').filter({ hasText: /Rent for .*3\.99/ }).waitFor();
  const offers = await api(marquee.url, 'GET', `/v1/offers?title_id=${titleId}`, { token: admin });
  assert.deepEqual(
    offers.map((o) => [o.kind, o.price.amount_minor, o.price.currency]),
    [['rental', 399, 'EUR']],
  );
  detail = await api(marquee.url, 'GET', `/v1/titles/${titleId}`, { token: admin });
  assert.deepEqual(detail.credits.map((c) => [c.name, c.kind, c.character]), [['Ada Lovelace', 'cast', 'Herself']]);
  assert.equal(detail.artwork.poster_source, 'upload');
  assert.deepEqual(detail.availability, []);
  await assertAccessible(page, 'title editor');
  await screenshot(page, 'studio-title-editor');

  // The asset page now finds its title and previews through it.
  await page.goto(`${marquee.url}/studio/assets/${assetId}`);
  await page.getByRole('link', { name: 'Test Pattern' }).waitFor();
  assert.equal(await page.getByRole('link', { name: 'Preview' }).getAttribute('href'), `/watch/${titleId}?asset=${assetId}`);

  // The titles list and the analytics (no views yet).
  await page.getByRole('link', { name: 'Titles', exact: true }).click();
  await page.locator(`[data-title="${titleId}"]`).waitFor();
  await assertAccessible(page, 'titles list');
  await screenshot(page, 'studio-titles');
  await page.getByRole('link', { name: 'Analytics of Test Pattern' }).click();
  await page.getByRole('heading', { name: 'Analytics: Test Pattern' }).waitFor();
  await page.locator('[data-metric=views]').filter({ hasText: '0' }).waitFor();
  assert.equal(await page.locator('figure.chart').count(), 4);
  await page.getByText('No views of Test Pattern in this period yet.').waitFor();
  await page.locator('[data-chart=views] summary').click();
  assert.equal(await page.locator('[data-chart=views] tbody tr').count(), 7);
  await assertAccessible(page, 'analytics page');
  await screenshot(page, 'studio-analytics');
  await page.getByLabel('Period', { exact: true }).selectOption('day');
  await waitFor('24 hourly buckets', async () => (await page.locator('[data-chart=views] tbody tr').count()) === 24);

  assertNoProblems(page);
  await page.context().close();
});

test('on a phone: the library says why an asset failed, retries and deletes it; the upload page', async () => {
  const admin = await token(marquee.url, marquee.admin);
  // Not a video: its transcode fails, and the library must say so in words.
  const response = await fetch(`${marquee.url}/v1/assets/upload`, {
    method: 'POST',
    headers: { authorization: `Bearer ${admin}`, 'content-type': 'video/mp4' },
    body: 'this is not a video at all',
  });
  const created = await response.text();
  assert.equal(response.status, 201, created);
  const broken = JSON.parse(created).id;
  await waitFor(
    'the broken asset to fail',
    async () => (await api(marquee.url, 'GET', `/v1/assets/${broken}`, { token: admin })).status === 'errored',
    { timeoutMs: 120_000, everyMs: 500 },
  );

  const page = await openPage(browser, PHONE);
  // Dark, as a phone at night would be: axe checks the contrast of the other palette.
  await page.emulateMedia({ colorScheme: 'dark' });
  await signIn(page, marquee.url, marquee.admin);
  await page.goto(`${marquee.url}/studio`);
  const row = page.locator(`[data-asset="${broken}"]`);
  await row.getByText('Failed', { exact: true }).waitFor();
  assert.match(await row.locator('.asset-error').innerText(), /The transcode failed: \S+/);
  await assertAccessible(page, 'library (phone)');
  await screenshot(page, 'studio-library-phone');

  // Retry: it is queued again, and fails again (the page follows it without a reload).
  const states = [];
  await row.getByRole('button', { name: /^Retry/ }).click();
  await waitFor(
    'the retried asset to fail again on the page',
    async () => {
      const state = await row.getAttribute('data-status');
      if (states.at(-1) !== state) states.push(state);
      return state === 'errored' && states.some((s) => s === 'queued' || s === 'processing');
    },
    { timeoutMs: 120_000, everyMs: 100 },
  ).catch(async (e) => {
    const now = await api(marquee.url, 'GET', `/v1/assets/${broken}`, { token: admin });
    throw new Error(`${e.message}: the page showed ${states.join(' → ')}; the API says ${now.status}`);
  });
  await row.getByText('Failed', { exact: true }).waitFor();

  await row.getByRole('button', { name: 'Delete' }).click();
  await row.getByRole('button', { name: 'Delete for good' }).click();
  await row.waitFor({ state: 'detached' });
  const gone = await fetch(`${marquee.url}/v1/assets/${broken}`, { headers: { authorization: `Bearer ${admin}` } });
  assert.ok(gone.status === 404 || (await gone.json()).status === 'deleted');

  // A ready asset's page (its renditions table scrolls sideways here, and must be reachable by keyboard).
  if (clipAssetId) {
    await page.goto(`${marquee.url}/studio/assets/${clipAssetId}`);
    await page.getByRole('heading', { name: 'Renditions' }).waitFor();
    await page.getByRole('region', { name: 'Renditions' }).waitFor();
    await assertAccessible(page, 'asset page (phone)');
    await screenshot(page, 'studio-asset-phone');
  }

  // An upload paused, resumed and canceled: the server forgets it and the asset it was to become.
  await page.getByRole('link', { name: 'Upload', exact: true }).click();
  await page.getByRole('heading', { name: 'Upload videos' }).waitFor();
  await assertAccessible(page, 'upload page (phone)');
  await throttleUploads(page, 300_000);
  await page.getByLabel('Choose video files').setInputFiles(clip);
  await waitFor('a tenth of the clip to be sent', async () => (await uploadFraction(page)) > 0.1, { timeoutMs: 60_000 });
  await page.getByRole('button', { name: 'Pause clip.mp4' }).click();
  await page.locator('.upload-row[data-state=paused]').waitFor();
  await page.getByRole('button', { name: 'Resume clip.mp4' }).waitFor();
  await screenshot(page, 'studio-upload-phone');
  const pausedAt = await uploadFraction(page);
  await page.getByRole('button', { name: 'Resume clip.mp4' }).click();
  await waitFor('the upload to go on', async () => (await uploadFraction(page)) > pausedAt + 0.03, { timeoutMs: 30_000 });
  await page.getByRole('button', { name: 'Cancel clip.mp4' }).click();
  await page.locator('.upload-row').waitFor({ state: 'detached' });
  await waitFor('the canceled upload to leave no asset', async () => {
    const items = (await api(marquee.url, 'GET', '/v1/assets', { token: admin })).items;
    return !items.some((a) => a.status === 'waiting_upload');
  });
  // Resuming or canceling right after a pause can meet the server's claim on the upload for a moment (423
  // Locked, logged by Chromium as a failed load); tus-js-client retries, and the outcomes are checked above.
  assertNoProblems(page, [/status of 423/]);
  await page.context().close();
});

test('a creator sees their own studio only; a viewer is refused and downloads none of it', async () => {
  const admin = await token(marquee.url, marquee.admin);
  const creator = { email: 'creator@example.com', password: 'a creator password' };
  const viewer = { email: 'viewer@example.com', password: 'a viewer password' };
  await api(marquee.url, 'POST', '/v1/users', { token: admin, body: { ...creator, role: 'creator' } });
  await api(marquee.url, 'POST', '/v1/users', { token: admin, body: { ...viewer, role: 'viewer' } });

  const page = await openPage(browser, DESKTOP);
  await signIn(page, marquee.url, creator);
  await page.goto(`${marquee.url}/studio`);
  await page.getByText('No videos yet.').waitFor();
  await assertAccessible(page, 'empty library');
  await screenshot(page, 'studio-library-empty');
  await page.goto(`${marquee.url}/studio/titles`);
  await page.getByText('No titles yet.').waitFor();
  // Their own title shows; the admin's (available to everyone) do not.
  const mine = await api(marquee.url, 'POST', '/v1/titles', {
    token: await token(marquee.url, creator),
    body: { kind: 'movie', title: 'A Creator Film' },
  });
  await page.reload();
  await page.locator(`[data-title="${mine.id}"]`).waitFor();
  assert.equal(await page.locator('[data-title]').count(), 1);
  await page.getByRole('link', { name: 'Analytics of A Creator Film' }).click();
  await page.locator('[data-metric=views]').filter({ hasText: '0' }).waitFor();

  // A series and its first season through the form (the season's parent is chosen from the creator's series).
  await page.goto(`${marquee.url}/studio/titles/new`);
  await page.getByLabel('Kind').selectOption('series');
  await page.getByLabel('Name', { exact: true }).fill('A Creator Series');
  await page.getByRole('button', { name: 'Create title' }).click();
  await page.getByRole('heading', { name: 'A Creator Series' }).waitFor();
  const seriesId = new URL(page.url()).pathname.split('/').pop();
  await page.goto(`${marquee.url}/studio/titles/new`);
  await page.getByLabel('Kind').selectOption('season');
  await page.getByLabel('Series', { exact: true }).selectOption({ label: 'A Creator Series' });
  await page.getByLabel('Name', { exact: true }).fill('Season One');
  await page.getByLabel('Number').fill('1');
  await page.getByRole('button', { name: 'Create title' }).click();
  await page.getByRole('heading', { name: 'Season One' }).waitFor();
  const season = await api(marquee.url, 'GET', new URL(page.url()).pathname.replace('/studio/titles', '/v1/titles'), {
    token: admin,
  });
  assert.equal(season.parent_id, seriesId);
  assert.equal(season.number, 1);

  // Two files dropped on the page at once: both upload, and the library lists them by their names.
  await page.goto(`${marquee.url}/studio/upload`);
  const files = await page.evaluateHandle(() => {
    const transfer = new DataTransfer();
    transfer.items.add(new File([new Uint8Array(200_000)], 'one.mp4', { type: 'video/mp4' }));
    transfer.items.add(new File([new Uint8Array(300_000)], 'two.mp4', { type: 'video/mp4' }));
    return transfer;
  });
  await page.locator('.dropzone').dispatchEvent('drop', { dataTransfer: files });
  await waitFor('both dropped files to upload', async () => (await page.locator('.upload-row[data-state=done]').count()) === 2);
  await page.getByRole('link', { name: 'See their transcoding in the library' }).click();
  await page.getByRole('link', { name: 'one.mp4' }).waitFor();
  await page.getByRole('link', { name: 'two.mp4' }).waitFor();
  assertNoProblems(page);
  await page.context().close();

  const other = await openPage(browser, DESKTOP);
  const studioChunks = [];
  other.on('request', (request) => {
    if (/\/assets\/(library|upload|asset|titles|title-editor|analytics)-/.test(request.url())) studioChunks.push(request.url());
  });
  await signIn(other, marquee.url, viewer);
  assert.equal(await other.getByRole('link', { name: 'Studio', exact: true }).count(), 0);
  await other.goto(`${marquee.url}/studio/upload`);
  await other.getByRole('heading', { name: 'Not available to your account' }).waitFor();
  assert.deepEqual(studioChunks, []);
  assertNoProblems(other);
  await other.context().close();
});
