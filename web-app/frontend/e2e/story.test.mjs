// The whole story in one browser session, against a `marquee up` on a temporary data directory: the
// admin (desktop) uploads a generated clip through the page, interrupts it with a reload and resumes it, waits for
// `ready`, creates a title for it and a plan; a new viewer (phone) signs up, is refused playback with the page's
// message, subscribes with the test card and plays: the position passes several segments, the picture is a rung's
// size, choosing another rung in the quality menu plays that rendition, and no console or player error is raised;
// then the creator's analytics page shows the view. axe-core on every page; screenshots as artefacts.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
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

/** The refused playback request, which Chromium logs as a failed load; the page says it in words. */
const REFUSED = [/status of 403/];

let marquee;
let browser;
let dir;
let clip;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'marquee-story-'));
  clip = join(dir, 'story.mp4');
  // 12 s (three segments of the ladder), a few MB so a throttled upload has a middle.
  makeClip(clip, { seconds: 12, bitrate: '3M' });
  [marquee, browser] = await Promise.all([startMarquee(), launchBrowser()]);
});
after(async () => {
  await browser?.close();
  await marquee?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function visit(page, label, shot) {
  await assertAccessible(page, label);
  await screenshot(page, `story-${shot}`);
}

const player = (page) =>
  page.evaluate(() => {
    const video = document.querySelector('.player video');
    const box = document.querySelector('.player');
    return video && { ...box.dataset, time: video.currentTime, width: video.videoWidth, height: video.videoHeight };
  });

async function waitForPlayer(page, what, predicate) {
  await page.waitForFunction(predicate, undefined, { timeout: 90_000, polling: 100 }).catch(async (e) => {
    throw new Error(`waiting for ${what}: ${e.message}\nplayer: ${JSON.stringify(await player(page))}`);
  });
}

test('upload, title and plan by the admin; sign-up, refusal, subscription and playback by a viewer; the view in analytics', async () => {
  const adminToken = await token(marquee.url, marquee.admin);

  // The admin, on a desktop: upload through the page, reloaded in the middle and resumed.
  const admin = await openPage(browser, DESKTOP);
  await signIn(admin, marquee.url, marquee.admin);
  await admin.goto(`${marquee.url}/studio/upload`);
  await admin.getByRole('heading', { name: 'Upload videos' }).waitFor();
  await visit(admin, 'upload page', 'upload');
  await throttleUploads(admin, 250_000);
  await admin.getByLabel('Choose video files').setInputFiles(clip);
  await admin.getByRole('progressbar', { name: 'story.mp4' }).waitFor();
  await waitFor(
    'a fifth of the clip to be sent',
    () => admin.evaluate(() => {
      const bar = document.querySelector('.upload-row progress');
      return bar !== null && bar.value / bar.max > 0.2;
    }),
    { timeoutMs: 60_000 },
  );
  await admin.reload();
  await admin.getByRole('heading', { name: 'Unfinished uploads' }).waitFor();
  await visit(admin, 'upload page after a reload', 'upload-unfinished');
  await throttleUploads(admin, -1);
  await admin.getByLabel('Choose story.mp4 again to resume').setInputFiles(clip);
  await admin.locator('.upload-row [role=status]').filter({ hasText: /resumed at/ }).waitFor();
  await admin.locator('.upload-row[data-state=done]').waitFor({ timeout: 60_000 });
  const assetId = (await admin.getByRole('link', { name: 'Open story.mp4' }).getAttribute('href')).split('/').pop();

  // Its transcode, watched in the library until `ready`.
  await admin.goto(`${marquee.url}/studio`);
  const row = admin.locator(`[data-asset="${assetId}"]`);
  await row.waitFor();
  await waitFor(
    'the clip to be ready',
    async () => ['ready', 'errored'].includes(await row.getAttribute('data-status')),
    { timeoutMs: 300_000, everyMs: 250 },
  );
  assert.equal(await row.getAttribute('data-status'), 'ready', await row.innerText());
  await visit(admin, 'library', 'library');
  const rungs = (await api(marquee.url, 'GET', `/v1/assets/${assetId}`, { token: adminToken })).renditions
    .filter((r) => r.height)
    .map((r) => [r.height, r.width]);
  assert.ok(rungs.length >= 2, `a ladder of several rungs: ${JSON.stringify(rungs)}`);
  const widthOf = new Map(rungs);

  // A title for it, from its page, and a plan.
  await admin.goto(`${marquee.url}/studio/assets/${assetId}`);
  await admin.getByRole('link', { name: 'Create a title for it' }).first().click();
  await admin.getByRole('heading', { name: 'New title' }).waitFor();
  await admin.getByLabel('Name', { exact: true }).fill('Story Film');
  await admin.getByLabel('Genres').fill('Drama');
  await admin.getByLabel('Synopsis').fill('A pattern and a tone, uploaded through the page.');
  await admin.getByRole('button', { name: 'Create title' }).click();
  await admin.getByRole('heading', { name: 'Story Film' }).waitFor();
  const titleId = new URL(admin.url()).pathname.split('/').pop();
  await visit(admin, 'title editor', 'title');
  await admin.goto(`${marquee.url}/admin/plans`);
  await admin.getByRole('heading', { name: 'Plans' }).waitFor();
  await admin.getByLabel('Name').fill('Story Pass');
  await admin.getByLabel('Price').fill('4,99');
  await admin.getByRole('button', { name: 'Make plan' }).click();
  await admin.getByText('Made the plan “Story Pass”').waitFor();
  await visit(admin, 'plans (admin)', 'admin-plans');
  assertNoProblems(admin);

  // A new viewer, on a phone: sign up, find the title, be refused with the page's words.
  const viewer = await openPage(browser, PHONE);
  await viewer.goto(`${marquee.url}/signup`);
  await viewer.getByLabel('Email').fill('story-viewer@example.com');
  await viewer.getByLabel('Password', { exact: true }).fill('a long enough password');
  await viewer.getByRole('button', { name: 'Create account' }).click();
  await viewer.getByRole('link', { name: 'story-viewer@example.com' }).waitFor();
  await viewer.goto(`${marquee.url}/titles/${titleId}`);
  await viewer.getByRole('heading', { name: 'Story Film', level: 1 }).waitFor();
  await visit(viewer, 'title page (viewer)', 'viewer-title');
  await viewer.goto(`${marquee.url}/watch/${titleId}`);
  const refusal = viewer.getByRole('alert');
  await refusal.getByRole('heading', { name: 'This title needs a plan or a rental' }).waitFor();
  assert.equal(await viewer.locator('.player').count(), 0, 'no player for a refused viewer');
  await visit(viewer, 'watch page, refused', 'viewer-refused');

  // Subscribe with the test card; the plans page goes back to the watch page, which plays.
  await refusal.getByRole('link', { name: 'See plans' }).click();
  await viewer.getByRole('heading', { name: 'Plans', level: 1 }).waitFor();
  const plan = viewer.getByRole('listitem').filter({ has: viewer.getByRole('heading', { name: 'Story Pass' }) });
  await plan.waitFor();
  await visit(viewer, 'plans (viewer)', 'viewer-plans');
  await plan.getByRole('button', { name: 'Choose Story Pass' }).click();
  await plan.getByLabel('Test card that pays', { exact: false }).first().check();
  await visit(viewer, 'checkout (viewer)', 'viewer-checkout');
  await plan.getByRole('button', { name: /Subscribe for/ }).click();
  await viewer.waitForURL(`**/watch/${titleId}`);
  await waitForPlayer(viewer, 'playback', `document.querySelector('.player')?.dataset.phase === 'playing'`);
  await waitForPlayer(viewer, 'a frame', `document.querySelector('.player video').videoHeight > 0`);
  let state = await player(viewer);
  assert.equal(widthOf.get(state.height), state.width, `the picture is a rung's size: ${state.width}x${state.height}`);
  await visit(viewer, 'watch page, playing', 'viewer-playing');

  // Another rung from the quality menu plays that rendition.
  const target = rungs.map(([height]) => height).find((height) => height !== state.height);
  await viewer.getByRole('button', { name: /^Quality: Auto/ }).click();
  await viewer.getByRole('menuitemradio', { name: new RegExp(`^${target}p`) }).click();
  await waitForPlayer(
    viewer,
    `the ${target}p rendition`,
    `document.querySelector('.player video').videoHeight === ${target} && document.querySelector('.player').dataset.renditionHeight === '${target}'`,
  );
  state = await player(viewer);
  assert.equal(state.width, widthOf.get(target));
  // Several segments played (4 s each), with no error from the player or the page.
  await waitForPlayer(viewer, 'three segments', `document.querySelector('.player video').currentTime > 9`);
  assert.equal(await viewer.locator('.player [role=alert]').count(), 0, 'no playback error shown');
  assertNoProblems(viewer, REFUSED);
  // Leaving the page sends the last beacons.
  await viewer.context().close();

  // The creator (here the admin, who owns the title) sees the view in the title's analytics.
  await admin.goto(`${marquee.url}/studio/analytics/${titleId}`);
  await admin.getByRole('heading', { name: 'Analytics: Story Film' }).waitFor();
  await waitFor(
    'the view in the analytics',
    async () => {
      const views = Number(await admin.locator('[data-metric=views]').innerText());
      if (views >= 1) return true;
      await admin.reload();
      await admin.getByRole('heading', { name: 'Analytics: Story Film' }).waitFor();
      return false;
    },
    { timeoutMs: 60_000, everyMs: 1_000 },
  );
  await visit(admin, 'analytics with a view', 'analytics');
  assertNoProblems(admin);
  await admin.context().close();
});
