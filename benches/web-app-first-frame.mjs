// Time to first frame on the web app's watch page over loopback (median of N cold loads, each in a new browser
// context), against a page that is only hls.js playing the same signed URL (the baseline), in the same run.
// The clock runs from navigation start to the first frame the video element presents
// (requestVideoFrameCallback after `playing`). Our page also signs in nothing (the sample is public) but fetches the
// title, asks the API for playback URLs and loads its own code first; the baseline has the URL in the page.
//
//   scripts/build-web-app.sh && cargo build --release -p marquee
//   MARQUEE_BIN=$CARGO_TARGET_DIR/release/marquee node benches/web-app-first-frame.mjs [--loads 10]
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const frontend = join(dirname(fileURLToPath(import.meta.url)), '..', 'web-app', 'frontend');
const { api, launchBrowser, startMarquee, token, waitFor } = await import(join(frontend, 'e2e', 'harness.mjs'));
const require = createRequire(join(frontend, 'package.json'));
const hlsSource = readFileSync(join(dirname(require.resolve('hls.js/package.json')), 'dist', 'hls.min.js'), 'utf8');
const loads = Number(process.argv[process.argv.indexOf('--loads') + 1]) || 10;

/** Records, in the page, when the first video frame is presented (ms since navigation start). */
const FIRST_FRAME = `
  document.addEventListener('playing', (event) => {
    const video = event.target;
    if (window.__firstFrame || !video.requestVideoFrameCallback) return;
    video.requestVideoFrameCallback(() => { window.__firstFrame ??= performance.now(); });
  }, true);
`;

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};

const marquee = await startMarquee();
const browser = await launchBrowser();
try {
  const admin = await token(marquee.url, marquee.admin);
  const title = await waitFor(
    'the sample title with its video',
    async () => {
      const found = (await api(marquee.url, 'GET', '/v1/titles')).items.find((t) => t.title === 'Marquee Sample');
      return found && (await api(marquee.url, 'GET', `/v1/titles/${found.id}`)).assets.some((a) => a.role === 'feature') && found;
    },
    { timeoutMs: 120_000, everyMs: 500 },
  );
  const assetId = (await api(marquee.url, 'GET', `/v1/titles/${title.id}`)).assets.find((a) => a.role === 'feature').asset_id;
  await waitFor(
    'the sample to be transcoded',
    async () => (await api(marquee.url, 'GET', `/v1/assets/${assetId}`, { token: admin })).status === 'ready',
    { timeoutMs: 600_000, everyMs: 1000 },
  );

  async function firstFrame(url) {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    await page.addInitScript(FIRST_FRAME);
    const messages = [];
    page.on('console', (m) => messages.push(`${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => messages.push(`uncaught: ${e.message}`));
    await page.goto(url);
    const ms = await page
      .waitForFunction(() => window.__firstFrame, undefined, { timeout: 60_000, polling: 10 })
      .catch(async (e) => {
        const state = await page.evaluate(() => {
          const v = document.querySelector('video');
          return v && { readyState: v.readyState, paused: v.paused, time: v.currentTime, error: v.error?.message };
        });
        throw new Error(`no first frame on ${url}: ${e.message}; video: ${JSON.stringify(state)}\n${messages.join('\n')}`);
      });
    const value = await ms.jsonValue();
    await context.close();
    return value;
  }

  const baselinePage = (hlsUrl) => `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>hls.js alone</title>
<script src="/hls.min.js"></script></head><body><video id="v" muted autoplay playsinline></video><script>
const hls = new Hls(); hls.loadSource(${JSON.stringify(hlsUrl)}); hls.attachMedia(document.getElementById('v'));
</script></body></html>`;

  // The baseline page from a server of its own on loopback (a page Playwright fulfils has no address, and
  // Chromium then refuses its requests to loopback), with hls.js and the current signed URL.
  let currentUrl = '';
  const server = createServer((request, response) => {
    if (request.url === '/hls.min.js') {
      response.writeHead(200, { 'content-type': 'text/javascript' });
      response.end(hlsSource);
    } else {
      response.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      response.end(baselinePage(currentUrl));
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const baselineUrl = `http://127.0.0.1:${server.address().port}/`;

  const ours = [];
  const baseline = [];
  for (let i = 0; i < loads; i += 1) {
    // Alternate, so drift on the machine touches both alike.
    ours.push(await firstFrame(`${marquee.url}/watch/${title.id}`));
    currentUrl = (await api(marquee.url, 'POST', `/v1/assets/${assetId}/playback`, { body: {} })).hls_url;
    baseline.push(await firstFrame(baselineUrl));
  }
  server.close();
  const round = (values) => values.map((v) => Math.round(v));
  console.log(`loads: ${loads} each, alternating, cold browser context each`);
  console.log(`watch page (web app):  median ${Math.round(median(ours))} ms   all ${round(ours).join(' ')}`);
  console.log(`hls.js alone (baseline): median ${Math.round(median(baseline))} ms   all ${round(baseline).join(' ')}`);
} finally {
  await browser.close();
  await marquee.stop();
}
