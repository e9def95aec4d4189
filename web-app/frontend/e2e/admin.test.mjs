// The admin's pages in a real browser, on a phone and a desktop: users and roles (disabling and enabling, the
// last admin protected, searching by email through the API), plans, webhooks (against a
// receiver this test runs on loopback, checking the signature with the secret the page showed once), events,
// and the workers and job queue with the sample's transcode (cancel and retry); axe-core on every page,
// screenshots of each, no console error.

import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { createServer } from 'node:http';
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

let marquee;
let browser;
let adminToken;
/** What the webhook receiver got: `{ path, headers, body }`. */
const received = [];
const receiver = createServer((request, response) => {
  let body = '';
  request.on('data', (chunk) => (body += chunk));
  request.on('end', () => {
    received.push({ path: request.url, headers: request.headers, body });
    response.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
  });
});
let receiverUrl;

before(async () => {
  await new Promise((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  receiverUrl = `http://127.0.0.1:${receiver.address().port}`;
  [marquee, browser] = await Promise.all([startMarquee({ args: ['--allow-private-webhooks'] }), launchBrowser()]);
  adminToken = await token(marquee.url, marquee.admin);
});
after(async () => {
  await browser?.close();
  await marquee?.stop();
  receiver.close();
});

// One signed-in page per viewport for every test (sign-in is rate limited: a few attempts a minute per address).
const pages = new Map();
/** The page signed in as the admin on `viewport`. */
async function adminPage(viewport) {
  if (!pages.has(viewport)) {
    const page = await openPage(browser, viewport);
    // The phone in the dark scheme (the app's default), the desktop in the light one: axe checks the contrast of both.
    await page.emulateMedia({ colorScheme: viewport === PHONE ? 'dark' : 'light' });
    await signIn(page, marquee.url, marquee.admin);
    pages.set(viewport, page);
  }
  const page = pages.get(viewport);
  // What an earlier test left (when it failed before checking) is that test's failure, not this one's.
  page.problems.length = 0;
  return page;
}

/** Whether a Standard Webhooks signature header holds the HMAC of `id.timestamp.body` under `secret`. */
function signedWith(secret, { headers, body }) {
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  const expected = createHmac('sha256', key).update(`${headers['webhook-id']}.${headers['webhook-timestamp']}.${body}`).digest('base64');
  return String(headers['webhook-signature'] ?? '')
    .split(' ')
    .some((part) => part === `v1,${expected}`);
}

for (const [name, viewport] of [
  ['phone', PHONE],
  ['desktop', DESKTOP],
]) {
  test(`the admin makes a viewer, promotes them to creator, disables and enables them, finds them by email (${name})`, async () => {
    const page = await adminPage(viewport);
    await page.goto(`${marquee.url}/admin`);
    await page.getByRole('heading', { name: 'Admin', exact: true }).waitFor();
    await assertAccessible(page, `admin overview (${name})`);
    await screenshot(page, `admin-overview-${name}`);

    await page.getByRole('link', { name: 'Users and roles' }).click();
    await page.getByRole('heading', { name: 'Users and roles' }).waitFor();
    const email = `viewer-${name}@example.com`;
    await page.getByLabel('Email', { exact: true }).fill(email);
    await page.getByLabel('Password').fill('a long enough password');
    await page.getByLabel('Role', { exact: true }).selectOption('viewer');
    await page.getByRole('button', { name: 'Make account' }).click();
    await page.getByText(`Made ${email}, a viewer.`).waitFor();
    const item = page.getByRole('list', { name: 'Accounts' }).getByRole('listitem').filter({ hasText: email });
    assert.equal(await item.locator('.badge').innerText(), 'viewer');

    // The same email again is refused, in words.
    await page.getByLabel('Email', { exact: true }).fill(email);
    await page.getByLabel('Password').fill('a long enough password');
    await page.getByRole('button', { name: 'Make account' }).click();
    const alert = page.getByRole('alert');
    await alert.waitFor();
    assert.match(await alert.innerText(), /could not make the account.*already exists/i);

    // Promote to creator, after saying yes in the dialog. By keyboard, Escape closes the dialog and gives focus back.
    await page.getByLabel(`Role of ${email}`, { exact: true }).selectOption('creator');
    const change = page.getByRole('button', { name: `Change role of ${email}` });
    await change.focus();
    await page.keyboard.press('Enter');
    const dialog = page.getByRole('dialog', { name: `Make ${email} a creator?` });
    await dialog.waitFor();
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
    assert.equal(await change.evaluate((button) => button === document.activeElement), true);
    await change.click();
    await dialog.waitFor();
    await assertAccessible(page, `role change dialog (${name})`);
    await screenshot(page, `admin-users-dialog-${name}`);
    await dialog.getByRole('button', { name: 'Make creator' }).click();
    await page.getByText(`${email} is now a creator.`).waitFor();
    assert.equal(await dialog.isVisible(), false);
    assert.equal(await item.locator('.badge').innerText(), 'creator');
    const users = await api(marquee.url, 'GET', '/v1/users', { token: adminToken });
    assert.equal(users.items.find((u) => u.email === email).role, 'creator');

    // Disable, after saying yes: said, shown on the account, and in the API; then enable again.
    await item.getByRole('button', { name: `Disable ${email}` }).click();
    const disableDialog = page.getByRole('dialog', { name: `Disable ${email}?` });
    await disableDialog.waitFor();
    await assertAccessible(page, `disable dialog (${name})`);
    await disableDialog.getByRole('button', { name: 'Disable account' }).click();
    await page.getByText(`${email} is disabled.`).waitFor();
    await item.locator('.badge-warn').filter({ hasText: 'disabled' }).waitFor();
    await item.getByText(/cannot sign in/).waitFor();
    await screenshot(page, `admin-users-disabled-${name}`);
    const disabledUser = (await api(marquee.url, 'GET', `/v1/users?email=${encodeURIComponent(email)}`, { token: adminToken })).items[0];
    assert.ok(disabledUser.disabled_at, 'the API has them disabled');
    await item.getByRole('button', { name: `Enable ${email}` }).click();
    await page.getByRole('dialog', { name: `Enable ${email}?` }).getByRole('button', { name: 'Enable account' }).click();
    await page.getByText(`${email} is enabled: they can sign in again.`).waitFor();
    assert.equal(await item.locator('.badge-warn').count(), 0);
    await item.getByRole('button', { name: `Disable ${email}` }).waitFor();
    const enabledUser = (await api(marquee.url, 'GET', `/v1/users?email=${encodeURIComponent(email)}`, { token: adminToken })).items[0];
    assert.equal(enabledUser.disabled_at ?? null, null, 'the API has them enabled');

    // The admin cannot demote themselves.
    const me = page.getByRole('list', { name: 'Accounts' }).getByRole('listitem').filter({ hasText: marquee.admin.email });
    await me.getByText('This is you.').waitFor();
    assert.equal(await me.getByRole('combobox').count(), 0);
    assert.equal(await me.getByRole('button').count(), 0);

    // Finding by email asks the API, in any case.
    const searched = page.waitForRequest((request) => /\/v1\/users\?.*email=VIEWER-/.test(request.url()));
    await page.getByLabel('Find by email').fill(`VIEWER-${name}`);
    await searched;
    await waitFor('only the match listed', async () => (await page.getByRole('list', { name: 'Accounts' }).getByRole('listitem').count()) === 1);
    await item.waitFor();
    await page.getByLabel('Find by email').fill('nobody-has-this');
    await page.getByText('No account has an email containing “nobody-has-this”.').waitFor();
    await page.getByLabel('Find by email').fill(`viewer-${name}`);
    await item.waitFor();
    await assertAccessible(page, `users page (${name})`);
    await screenshot(page, `admin-users-${name}`);
    assertNoProblems(page, [/409/]);
  });

  test(`the admin makes, edits and archives plans (${name})`, async () => {
    const page = await adminPage(viewport);
    await page.goto(`${marquee.url}/admin/plans`);
    await page.getByRole('heading', { name: 'Plans' }).waitFor();
    await page.getByText('No plan is on sale').or(page.getByRole('list', { name: 'Plans on sale' }).getByRole('listitem').first()).waitFor();
    await assertAccessible(page, `plans page (${name})`);

    // Too many decimals for EUR: said before anything is sent.
    const planName = `Gold ${name}`;
    await page.getByLabel('Name').fill(planName);
    await page.getByLabel('Price').fill('4.999');
    await page.getByLabel('Free trial (days)').fill('7');
    await page.getByRole('button', { name: 'Make plan' }).click();
    await page.getByRole('alert').filter({ hasText: 'EUR has 2 decimal places at most' }).waitFor();
    await page.getByLabel('Price').fill('4,99');
    await page.getByRole('button', { name: 'Make plan' }).click();
    await page.getByText(`Made the plan “${planName}”`).waitFor();

    // Yen have no minor unit: 500 is 500.
    const yenName = `Yen ${name}`;
    await page.getByLabel('Name').fill(yenName);
    await page.getByLabel('Price').fill('500');
    await page.getByLabel('Currency').fill('jpy');
    await page.getByLabel('Billed every').selectOption('year');
    await page.getByRole('button', { name: 'Make plan' }).click();
    await page.getByText(`Made the plan “${yenName}”`).waitFor();

    const plans = await api(marquee.url, 'GET', '/v1/plans', { token: adminToken });
    const gold = plans.find((p) => p.name === planName);
    assert.deepEqual(gold.price, { amount_minor: 499, currency: 'EUR' });
    assert.equal(gold.trial_days, 7);
    const yen = plans.find((p) => p.name === yenName);
    assert.deepEqual(yen.price, { amount_minor: 500, currency: 'JPY' });
    assert.equal(yen.period, 'year');
    const goldItem = page.getByRole('list', { name: 'Plans on sale' }).getByRole('listitem').filter({ hasText: planName });
    assert.match(await goldItem.innerText(), /€4\.99 a month, 7-day free trial/);

    // Edit: rename and change the trial.
    await page.getByRole('button', { name: `Edit ${planName}` }).click();
    const form = page.getByRole('form', { name: `Edit ${planName}` });
    await form.getByLabel('Name').fill(`${planName} plus`);
    await form.getByLabel('Free trial (days)').fill('14');
    await assertAccessible(page, `plan editing (${name})`);
    await form.getByRole('button', { name: 'Save' }).click();
    await page.getByText(`Saved the plan “${planName} plus”.`).waitFor();
    await page
      .getByRole('list', { name: 'Plans on sale' })
      .getByRole('listitem')
      .filter({ hasText: `${planName} plus` })
      .getByText(/€4\.99 a month, 14-day free trial/)
      .waitFor();

    // Archive the yen plan.
    await page.getByRole('button', { name: `Archive ${yenName}` }).click();
    const dialog = page.getByRole('dialog', { name: `Archive “${yenName}”?` });
    await dialog.getByRole('button', { name: 'Archive' }).click();
    await page.getByText(`Archived the plan “${yenName}”.`).waitFor();
    await page.getByRole('list', { name: 'Archived plans' }).getByText(yenName).waitFor();
    assert.equal((await api(marquee.url, 'GET', `/v1/plans/${yen.id}`, { token: adminToken })).archived, true);
    await screenshot(page, `admin-plans-${name}`);
    assertNoProblems(page);
  });

  test(`the admin registers a webhook, sends an event to it and redelivers it (${name})`, async () => {
    const page = await adminPage(viewport);
    await page.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: marquee.url });
    await page.goto(`${marquee.url}/admin/webhooks`);
    await page.getByRole('heading', { name: 'Webhooks' }).waitFor();
    await assertAccessible(page, `webhooks page (${name})`);

    const url = `${receiverUrl}/hook-${name}`;
    await page.getByLabel('URL').fill(url);
    await page.getByLabel('Description (optional)').fill(`test receiver on the ${name}`);
    await page.getByRole('button', { name: 'Register endpoint' }).click();
    await page.getByRole('heading', { name: `Signing secret for ${url}` }).waitFor();
    const secret = await page.getByLabel('Signing secret', { exact: true }).inputValue();
    assert.match(secret, /^whsec_/);
    await page.getByRole('button', { name: 'Copy secret' }).click();
    await page.getByText('Copied.').waitFor();
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), secret);
    await assertAccessible(page, `webhook secret (${name})`);
    await screenshot(page, `admin-webhook-secret-${name}`);
    await page.getByRole('button', { name: 'I have saved it' }).click();
    await page.getByRole('list', { name: 'Endpoints' }).getByRole('link', { name: url, exact: true }).waitFor();

    // Send the newest event again from the events page: the receiver gets it, signed with that secret.
    await waitFor('an event (the sample asset made)', async () => (await api(marquee.url, 'GET', '/v1/events?limit=1', { token: adminToken })).events.length > 0);
    await page.goto(`${marquee.url}/admin/events`);
    const firstEvent = page.getByRole('list', { name: 'Events' }).getByRole('listitem').first();
    await firstEvent.waitFor();
    await assertAccessible(page, `events page (${name})`);
    await screenshot(page, `admin-events-${name}`);
    const eventId = await firstEvent.locator('.event-id code').getAttribute('title');
    await firstEvent.getByRole('button', { name: /Send again: event \d+/ }).click();
    await page.getByText(/again to \d+ endpoints?\./).waitFor();
    // (The endpoint receives every event: the sample's own may arrive too, while it transcodes.)
    const ours = () => received.filter((r) => r.path === `/hook-${name}` && r.headers['webhook-id'] === eventId);
    const first = await waitFor('the receiver to get the event', () => ours()[0]);
    assert.ok(signedWith(secret, first), 'the delivery is signed with the secret the page showed');

    // The delivery log shows it delivered with the receiver's 200; its details show the attempt.
    await page.goto(`${marquee.url}/admin/webhooks`);
    await page.getByRole('link', { name: `Delivery log of ${url}` }).click();
    await page.getByRole('heading', { name: 'Delivery log' }).waitFor();
    const table = page.getByRole('table', { name: 'Deliveries' });
    const rows = table.getByRole('row').filter({ hasText: eventId.slice(-12) });
    await rows.getByText('delivered').first().waitFor({ timeout: 30_000 });
    await rows.getByText('HTTP 200').first().waitFor();
    await rows.getByRole('button', { name: 'Details' }).first().click();
    await page.getByRole('list', { name: 'Attempts' }).getByText(/Attempt 1, .*answered HTTP 200/).waitFor();
    await page.getByRole('button', { name: 'Show the event' }).click();
    await page.getByLabel('The event').getByText(eventId).waitFor();
    await assertAccessible(page, `delivery log (${name})`);
    await screenshot(page, `admin-deliveries-${name}`);

    // Redeliver: the receiver gets the same webhook-id again, and the log has a second delivery of it.
    await rows.getByRole('button', { name: 'Redeliver' }).first().click();
    await page.getByText(/Sending .* again as a new delivery\./).waitFor();
    await waitFor('the redelivery', () => ours().length >= 2);
    await waitFor('two deliveries of the event in the log', async () => (await rows.getByText('HTTP 200').count()) >= 2, { timeoutMs: 30_000 });

    // Remove it.
    await page.goto(`${marquee.url}/admin/webhooks`);
    await page.getByRole('button', { name: `Remove ${url}` }).click();
    await page.getByRole('dialog', { name: `Remove ${url}?` }).getByRole('button', { name: 'Remove' }).click();
    await page.getByText(`Removed ${url}.`).waitFor();
    await page.getByRole('list', { name: 'Endpoints' }).getByRole('link', { name: url, exact: true }).waitFor({ state: 'detached' });
    assert.equal((await api(marquee.url, 'GET', '/v1/webhooks', { token: adminToken })).items.some((e) => e.url === url), false);
    assertNoProblems(page);
  });

  test(`the admin sees the worker and the sample's job; cancels and retries a transcode (${name})`, async () => {
    const page = await adminPage(viewport);
    await page.goto(`${marquee.url}/admin/workers`);
    const workers = page.getByRole('list', { name: 'Workers' });
    await workers.getByRole('listitem').filter({ hasText: 'marquee-up' }).waitFor();
    assert.match(await workers.innerText(), /Encoders x264/);

    // The sample: in the queue (with its worker and progress) or done.
    const sample = await waitFor('the sample asset', async () => (await api(marquee.url, 'GET', '/v1/assets', { token: adminToken })).items[0]);
    const short = sample.id.slice(-12);
    const inQueue = page.getByRole('table', { name: 'Job queue' }).getByRole('row').filter({ hasText: short });
    const done = page.getByRole('list', { name: 'Ready assets' }).getByText(short);
    await inQueue.or(done).first().waitFor({ timeout: 120_000 });
    await assertAccessible(page, `workers page (${name})`);
    await screenshot(page, `admin-workers-${name}`);

    // Once it is ready, transcode it again, cancel that from the page, then retry it from the page.
    await done.waitFor({ timeout: 240_000 });
    await api(marquee.url, 'POST', `/v1/assets/${sample.id}/transcode`, { token: adminToken, body: {} });
    await page.getByRole('button', { name: `Cancel the transcode of asset ${short}` }).click();
    const dialog = page.getByRole('dialog', { name: 'Cancel this transcode?' });
    await assertAccessible(page, `cancel dialog (${name})`);
    await dialog.getByRole('button', { name: 'Cancel the transcode' }).click();
    await page.getByText(`Canceled the transcode of asset ${short}.`).waitFor();
    const erroredItem = page.getByRole('list', { name: 'Errored assets' }).getByRole('listitem').filter({ hasText: short });
    await erroredItem.getByText('canceled', { exact: true }).waitFor();
    await screenshot(page, `admin-workers-canceled-${name}`);
    await erroredItem.getByRole('button', { name: `Retry asset ${short}` }).click();
    await page.getByText(`Asset ${short} is queued again.`).waitFor();
    await inQueue.or(done).first().waitFor();
    await waitFor('the retried transcode to finish', async () => (await api(marquee.url, 'GET', `/v1/assets/${sample.id}`, { token: adminToken })).status === 'ready', {
      timeoutMs: 240_000,
      everyMs: 1000,
    });
    await done.waitFor({ timeout: 30_000 });
    assertNoProblems(page);
  });
}

test('a creator opening an admin page is told it is for admins', async () => {
  // The creator the phone test made; its tokens go straight into the page's storage (sign-in through the form
  // is tested elsewhere, and is rate limited).
  const pair = await api(marquee.url, 'POST', '/v1/auth/login', { body: { email: 'viewer-phone@example.com', password: 'a long enough password' } });
  const page = await openPage(browser, DESKTOP);
  await page.addInitScript((tokens) => localStorage.setItem('marquee.tokens', JSON.stringify(tokens)), {
    access_token: pair.access_token,
    refresh_token: pair.refresh_token,
    expires_at: Date.now() + pair.expires_in * 1000,
  });
  await page.goto(`${marquee.url}/admin/workers`);
  await page.getByRole('heading', { name: 'Not available to your account' }).waitFor();
  assert.match(await page.locator('main').innerText(), /for admins; you are signed in as a creator/);
  assert.equal(await page.getByRole('link', { name: 'Admin', exact: true }).count(), 0);
  await assertAccessible(page, 'admin page refused to a creator');
  assertNoProblems(page);
  await page.context().close();
});

test('the last enabled admin cannot be demoted or disabled, and the page says why (desktop)', async () => {
  // The API refuses it (the admin here is the only one).
  const me = (await api(marquee.url, 'GET', `/v1/users?email=${encodeURIComponent(marquee.admin.email)}`, { token: adminToken })).items[0];
  const refused = await api(marquee.url, 'PATCH', `/v1/users/${me.id}`, { token: adminToken, body: { disabled: true } }).catch((e) => e.message);
  assert.match(refused, /answered 409: .*"last_admin"/);
  // The page never offers it for the admin's own account, so another admin's must be the last: that takes a race
  // (the page's admin disabled meanwhile). The API's answer to it is played here for a second admin's account.
  const other = `other-admin@example.com`;
  await api(marquee.url, 'POST', '/v1/users', { token: adminToken, body: { email: other, password: 'a long enough password', role: 'admin' } });
  const page = await adminPage(DESKTOP);
  await page.route('**/v1/users/*', (route) =>
    route.request().method() === 'PATCH'
      ? route.fulfill({
          status: 409,
          contentType: 'application/json',
          body: JSON.stringify({ error: { code: 'last_admin', message: 'this is the last enabled admin: make another admin first, then change this one', request_id: 'test' } }),
        })
      : route.continue(),
  );
  await page.goto(`${marquee.url}/admin/users`);
  await page.getByLabel('Find by email').fill('other-admin');
  await page.getByRole('button', { name: `Disable ${other}` }).click();
  const dialog = page.getByRole('dialog', { name: `Disable ${other}?` });
  await dialog.getByRole('button', { name: 'Disable account' }).click();
  const alert = dialog.getByRole('alert');
  await alert.waitFor();
  assert.match(await alert.innerText(), new RegExp(`${other} is the last enabled admin: nobody could manage the users without them`));
  await assertAccessible(page, 'last admin refused');
  await screenshot(page, 'admin-users-last-admin-desktop');
  await page.unrouteAll({ behavior: 'ignoreErrors' });
  assertNoProblems(page, [/409/]);
});
