// What every browser test of the web app needs: a `marquee up` of its own on a temporary data directory and free
// loopback ports, Debian's Chromium driven by playwright-core, a page that records console errors, axe-core's
// accessibility check, and screenshots kept as test artefacts.
//
// Environment:
//   MARQUEE_BIN          the marquee binary (default $CARGO_TARGET_DIR/debug/marquee, or ~/.cache/marquee/target/…)
//   MARQUEE_WEB_APP      passed to `marquee up --web-app` (default: the build embedded in the binary; a dist/
//                        folder tests the app without rebuilding marquee)
//   MARQUEE_ARTIFACTS    where screenshots go (default $CARGO_TARGET_DIR/web-app-artifacts)
//   CHROMIUM             the browser (default /usr/bin/chromium)

import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);
const targetDir = process.env.CARGO_TARGET_DIR ?? join(homedir(), '.cache/marquee/target');
export const marqueeBin = process.env.MARQUEE_BIN ?? join(targetDir, 'debug/marquee');
export const artifacts = process.env.MARQUEE_ARTIFACTS ?? join(targetDir, 'web-app-artifacts');

export const PHONE = { width: 390, height: 844 };
export const DESKTOP = { width: 1280, height: 800 };

/** Waits for `predicate()` to be truthy (polling; for conditions outside the browser). */
export async function waitFor(what, predicate, { timeoutMs = 60_000, everyMs = 100 } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await predicate();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

/**
 * Starts `marquee up` on a new temporary data directory (or `dataDir`) and free ports; resolves once it has
 * printed its address. `{ url, mediaUrl, admin: { email, password }, stop() }`; the admin is there on first start.
 */
export async function startMarquee({ dataDir, args = [] } = {}) {
  const ownDir = !dataDir;
  const data = dataDir ?? mkdtempSync(join(tmpdir(), 'marquee-web-'));
  const webApp = process.env.MARQUEE_WEB_APP ? ['--web-app', process.env.MARQUEE_WEB_APP] : [];
  const child = spawn(
    marqueeBin,
    ['up', '--data-dir', data, '--listen', '127.0.0.1:0', '--media-listen', '127.0.0.1:0', ...webApp, ...args],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, RUST_LOG: process.env.RUST_LOG ?? 'warn' } },
  );
  let output = '';
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  // Its last start-up line follows the address and, on a first start, the admin's password.
  const started = await Promise.race([
    waitFor(
      'marquee up to start',
      () => output.includes('Stop with Ctrl-C') && /Marquee is up on (http:\S+)/.exec(output),
      { timeoutMs: 120_000 },
    ),
    exited.then(({ code, signal }) => {
      throw new Error(`marquee up exited (${code ?? signal}) before serving:\n${output}`);
    }),
  ]);
  const url = started[1];
  const mediaUrl = /media \(edge\)\s+(http:\S+)/.exec(output)?.[1];
  const admin = /made the admin (\S+) with the password (\S+)/.exec(output);
  return {
    url,
    mediaUrl,
    dataDir: data,
    admin: admin ? { email: admin[1], password: admin[2] } : undefined,
    output: () => output,
    /** Stops it (SIGTERM, as Ctrl-C would) and waits; removes the data directory this call made unless `keep`. */
    async stop({ keep = false } = {}) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const { code, signal } = await exited;
      if (ownDir && !keep) rmSync(data, { recursive: true, force: true });
      if (code !== 0) throw new Error(`marquee up stopped with ${code ?? signal}:\n${output}`);
    },
  };
}

/** Debian's Chromium, headless, with the flags that keep it off the network and quiet. */
export function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
      '--disable-sync',
      '--autoplay-policy=no-user-gesture-required',
    ],
  });
}

/**
 * A page in a new context of `viewport`, recording every console error and uncaught exception in `page.problems`
 * (check them with `assertNoProblems`).
 */
export async function openPage(browser, viewport = DESKTOP) {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  page.problems = [];
  page.on('console', (message) => {
    if (message.type() === 'error') page.problems.push(`console error: ${message.text()}`);
  });
  page.on('pageerror', (error) => page.problems.push(`uncaught: ${error.message}`));
  return page;
}

/**
 * Fails if the page logged a console error or threw; `allow` lists patterns of expected ones (a 403 the page
 * shows in words is logged by Chromium as a failed resource load).
 */
export function assertNoProblems(page, allow = []) {
  const left = page.problems.filter((problem) => !allow.some((pattern) => pattern.test(problem)));
  if (left.length > 0) throw new Error(`the page had problems:\n${left.join('\n')}`);
  page.problems.length = 0;
}

const axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

/** Runs axe-core on the page as it is; fails listing any serious or critical violation. */
export async function assertAccessible(page, label) {
  await page.addScriptTag({ content: axeSource });
  const results = await page.evaluate(async () => {
    // eslint-disable-next-line no-undef
    const run = await axe.run(document, { resultTypes: ['violations'] });
    return run.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.slice(0, 3).map((n) => n.target.join(' ')),
    }));
  });
  const serious = results.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  if (serious.length > 0) {
    throw new Error(
      `${label}: ${serious.length} serious or critical accessibility violation(s):\n` +
        serious.map((v) => `  ${v.impact} ${v.id}: ${v.help} (${v.nodes.join(', ')})`).join('\n'),
    );
  }
  return results;
}

/** Saves a full-page screenshot as `<artifacts>/<name>.png`; returns the path. */
export async function screenshot(page, name) {
  mkdirSync(artifacts, { recursive: true });
  const path = join(artifacts, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/** Signs in through the page's form. */
export async function signIn(page, baseUrl, { email, password }) {
  await page.goto(`${baseUrl}/signin`);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
}

/** Calls the API directly (for set-up a test does not exercise through the page). */
export async function api(baseUrl, method, path, { token, body, headers = {} } = {}) {
  const response = await fetch(baseUrl + path, {
    method,
    headers: {
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...headers,
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  const value = text ? JSON.parse(text) : undefined;
  if (!response.ok) throw new Error(`${method} ${path} answered ${response.status}: ${text}`);
  return value;
}

/** An access token for `credentials`. */
export async function token(baseUrl, credentials) {
  return (await api(baseUrl, 'POST', '/v1/auth/login', { body: credentials })).access_token;
}

/**
 * A clip of test pattern and tone made with ffmpeg: `seconds` long at 1280x720, noisy enough to be `bitrate`
 * (e.g. '6M'), so a throttled upload of it has a middle.
 */
export function makeClip(path, { seconds, bitrate }) {
  execFileSync('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-y',
    '-f', 'lavfi', '-i', 'testsrc=size=1280x720:rate=30',
    '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
    '-t', String(seconds), '-vf', 'noise=alls=20:allf=t', '-c:v', 'libx264', '-preset', 'ultrafast', '-b:v', bitrate,
    '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-shortest', path,
  ]);
  return path;
}

/** Upload bandwidth of the page (bytes a second; -1: no limit), as DevTools' network throttling sets it. */
export async function throttleUploads(page, bytesPerSecond) {
  page.cdp ??= await page.context().newCDPSession(page);
  await page.cdp.send('Network.enable');
  await page.cdp.send('Network.emulateNetworkConditions', {
    offline: false,
    latency: 0,
    downloadThroughput: -1,
    uploadThroughput: bytesPerSecond,
  });
}
