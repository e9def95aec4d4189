// The viewer's pages in a real browser, on a phone and a desktop: home rows, search with a typo, a title's facts
// and prices (to visitors too), a free title said to be free, subscribing with the test card (declined first, then paid) from a title's page and back to it,
// the account with the subscription, renting a title, and canceling. axe-core on every page, screenshots of each.

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
  startMarquee,
  token,
  waitFor,
} from './harness.mjs';

let marquee;
let browser;
const ids = {};

/** The catalog the tests browse, made through the API as the admin. */
async function setUp() {
  // startMarquee() reads the admin's line from the output it has when the address appears; it can come a moment
  // later, so wait for it here.
  const credentials =
    marquee.admin ??
    (await waitFor('the admin credentials in the output', () => {
      const found = /made the admin (\S+) with the password (\S+)/.exec(marquee.output());
      return found && { email: found[1], password: found[2] };
    }));
  const admin = await token(marquee.url, credentials);
  const call = (method, path, body) => api(marquee.url, method, path, { token: admin, body });
  // The sample asset `marquee up` transcodes on first start: the keeper's feature and trailer.
  const sample = await waitFor(
    'the sample asset to be ready',
    async () => (await call('GET', '/v1/assets')).items.find((asset) => asset.status === 'ready'),
    { timeoutMs: 240_000, everyMs: 1000 },
  );
  // The sample's video is public (free to watch); the keeper's feature is a signed asset of its own: an upload
  // begun and never finished is enough for a title page (it gives the worker no job).
  const upload = await fetch(`${marquee.url}/v1/uploads`, {
    method: 'POST',
    headers: { authorization: `Bearer ${admin}`, 'tus-resumable': '1.0.0', 'upload-length': '1000' },
  });
  assert.equal(upload.status, 201, await upload.text());
  const signedAsset = upload.headers.get('marquee-asset-id');
  ids.sample = (await call('GET', '/v1/titles')).items.find((t) => t.title === 'Marquee Sample').id;
  const keeper = await call('POST', '/v1/titles', {
    kind: 'movie',
    title: 'The Lighthouse Keeper',
    release_year: 2021,
    runtime_minutes: 104,
    maturity_rating: 'PG-13',
    languages: ['en'],
    genres: ['Drama', 'Mystery'],
    synopsis: 'A keeper on a remote island finds the light has been signalling to someone else.',
  });
  ids.keeper = keeper.id;
  await call('PUT', `/v1/titles/${keeper.id}/assets`, {
    assets: [
      { asset_id: signedAsset, role: 'feature' },
      { asset_id: sample.id, role: 'trailer' },
    ],
  });
  const ada = await call('POST', '/v1/people', { name: 'Ada Okonkwo', biography: 'Stage and screen actor.' });
  const ruth = await call('POST', '/v1/people', { name: 'Ruth Bergström' });
  ids.ada = ada.id;
  await call('PUT', `/v1/titles/${keeper.id}/credits`, {
    credits: [
      { person_id: ada.id, kind: 'cast', character: 'Maren' },
      { person_id: ruth.id, kind: 'crew', role: 'director' },
    ],
  });
  const harbour = await call('POST', '/v1/titles', {
    kind: 'movie',
    title: 'Harbour Nights',
    release_year: 2019,
    runtime_minutes: 95,
    genres: ['Drama'],
    tags: ['boutique'],
    synopsis: 'Dockworkers and a night that changes a town.',
  });
  ids.harbour = harbour.id;
  const series = await call('POST', '/v1/titles', { kind: 'series', title: 'Tidewater', release_year: 2024, genres: ['Mystery'], synopsis: 'A coastal town keeps its secrets.' });
  ids.series = series.id;
  const season = await call('POST', '/v1/titles', { kind: 'season', parent_id: series.id, number: 1, title: 'Season 1' });
  for (const [number, title] of [
    [1, 'The Tide Turns'],
    [2, 'Low Water'],
  ]) {
    await call('POST', '/v1/titles', { kind: 'episode', parent_id: season.id, number, title, runtime_minutes: 48 });
  }
  // A plan for everything but the boutique collection, which is only rented or bought.
  ids.plan = (await call('POST', '/v1/plans', { name: 'Standard', period: 'month', price: { amount_minor: 999, currency: 'EUR' }, unlocks: { kind: 'tag', tag: 'catalog' } })).id;
  await call('POST', '/v1/plans', { name: 'Everything', period: 'year', price: { amount_minor: 9900, currency: 'EUR' }, unlocks: { kind: 'catalog' } });
  await call('PATCH', `/v1/titles/${keeper.id}`, { tags: ['catalog'] });
  await call('POST', '/v1/offers', { title_id: harbour.id, kind: 'rental', price: { amount_minor: 399, currency: 'EUR' }, watch_window_hours: 48 });
  await call('POST', '/v1/offers', { title_id: harbour.id, kind: 'purchase', price: { amount_minor: 1299, currency: 'EUR' } });
}

before(async () => {
  [marquee, browser] = await Promise.all([startMarquee(), launchBrowser()]);
  await setUp();
});
after(async () => {
  await browser?.close();
  await marquee?.stop();
});

/** Goes to `path` and waits for `heading`, then checks accessibility and takes a screenshot. */
async function visit(page, path, heading, shot) {
  if (path) await page.goto(marquee.url + path);
  await page.getByRole('heading', { name: heading, exact: true }).first().waitFor();
  await assertAccessible(page, shot);
  await screenshot(page, `viewer-${shot}`);
}

for (const [name, viewport] of [
  ['phone', PHONE],
  ['desktop', DESKTOP],
]) {
  test(`a visitor browses, signs up, searches, subscribes, rents and cancels (${name})`, async () => {
    const page = await openPage(browser, viewport);

    // Home, signed out: the API's rows and a call to sign up.
    await page.goto(marquee.url + '/');
    const newest = page.getByRole('region', { name: 'Newest' });
    await newest.getByRole('link', { name: /The Lighthouse Keeper/ }).waitFor();
    await page.getByRole('link', { name: 'Sign up' }).first().waitFor();
    const mystery = page.getByRole('region', { name: 'Mystery' });
    assert.ok(await mystery.isVisible(), 'a row by genre');
    assert.equal(await mystery.getByRole('link', { name: 'See all Mystery' }).getAttribute('href'), '/genres/mystery');
    await visit(page, null, 'Newest', `home-visitor-${name}`);
    // The arrow keys move along a row.
    const cards = newest.getByRole('link');
    assert.ok((await cards.count()) >= 3);
    await cards.nth(0).focus();
    await page.keyboard.press('ArrowRight');
    assert.equal(await cards.nth(1).evaluate((el) => el === document.activeElement), true, 'ArrowRight moves to the next card');

    // A visitor sees what a title costs, and is asked to sign up to rent or buy it.
    await cards.nth(1).press('Enter');
    await page.getByRole('heading', { name: 'Harbour Nights', level: 1 }).waitFor();
    const visitorHowTo = page.getByRole('region', { name: 'How to watch' });
    const signUpToRent = visitorHowTo.getByRole('link', { name: 'Sign up to rent' });
    await signUpToRent.waitFor();
    assert.match(await visitorHowTo.innerText(), /3\.99/);
    assert.match(await visitorHowTo.innerText(), /12\.99/);
    await visitorHowTo.getByRole('link', { name: 'Sign up to buy' }).waitFor();
    assert.equal(await signUpToRent.getAttribute('href'), `/signup?next=${encodeURIComponent(`/titles/${ids.harbour}`)}`);
    assert.equal(await visitorHowTo.getByRole('button').count(), 0, 'nothing to pay with before signing up');
    await visit(page, null, 'Harbour Nights', `title-visitor-${name}`);
    // The plans and their prices, too.
    await page.goto(`${marquee.url}/plans`);
    const standard = page.getByRole('listitem').filter({ has: page.getByRole('heading', { name: 'Standard' }) });
    await standard.getByText(/9\.99 a month/).waitFor();
    await standard.getByRole('link', { name: 'Sign up to subscribe' }).waitFor();
    await visit(page, null, 'Plans', `plans-visitor-${name}`);
    // A title whose video is public is free to watch: said so, with no prices.
    await page.goto(`${marquee.url}/titles/${ids.sample}`);
    const free = page.getByRole('region', { name: 'How to watch' });
    await free.getByText(/^Free: anyone can watch it/).waitFor();
    assert.doesNotMatch(await free.innerText(), /Subscribe|Rent|Buy/);
    await visit(page, null, 'Marquee Sample', `title-free-${name}`);

    // Sign up and come back home: the rows are there for a viewer too.
    const email = `watcher-${name}@example.com`;
    await page.goto(`${marquee.url}/signup`);
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password', { exact: true }).fill('a long enough password');
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.getByRole('link', { name: email }).waitFor();
    await page.getByRole('region', { name: 'Newest' }).getByRole('link', { name: /Tidewater/ }).waitFor();
    await visit(page, null, 'Newest', `home-viewer-${name}`);

    // Search as you type, with a typo; the query goes into the URL.
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Search' }).click();
    const box = page.getByRole('searchbox', { name: 'Titles and people' });
    await box.waitFor();
    await box.pressSequentially('lighthose keeper', { delay: 30 });
    const result = page.getByRole('link', { name: /The Lighthouse Keeper/ });
    await result.waitFor();
    await page.getByRole('status').filter({ hasText: /results? for “lighthose keeper”/ }).waitFor();
    assert.match(new URL(page.url()).search, /q=lighthose\+keeper/);
    await visit(page, null, 'Search', `search-${name}`);
    await box.fill('zzqxj');
    await page.getByText('No results for “zzqxj”').waitFor();
    await box.fill('okonkwo');
    await page.getByRole('link', { name: /Ada Okonkwo/ }).waitFor();
    await box.fill('lighthose keeper');
    await page.getByRole('status').filter({ hasText: /results? for “lighthose keeper”/ }).waitFor();
    await result.click();
    await page.getByRole('heading', { name: 'The Lighthouse Keeper', level: 1 }).waitFor();
    // Back returns to the search as it was.
    await page.goBack();
    await result.waitFor();
    assert.equal(await box.inputValue(), 'lighthose keeper');
    await result.click();

    // The title page: facts, credits, trailer, what it takes to watch, with prices.
    await page.getByRole('heading', { name: 'The Lighthouse Keeper', level: 1 }).waitFor();
    const facts = await page.locator('.title-facts').innerText();
    assert.match(facts, /2021/);
    assert.match(facts, /1 h 44 min/);
    await page.getByText('A keeper on a remote island').waitFor();
    await page.getByRole('link', { name: 'Ada Okonkwo' }).waitFor();
    assert.equal(await page.getByRole('link', { name: /Play/ }).first().getAttribute('href'), `/watch/${ids.keeper}`);
    assert.match(await page.getByRole('link', { name: 'Watch the trailer' }).getAttribute('href'), new RegExp(`^/watch/${ids.keeper}\\?asset=`));
    const howTo = page.getByRole('region', { name: 'How to watch' });
    await howTo.getByText('Standard', { exact: true }).waitFor();
    assert.match(await howTo.innerText(), /9\.99/);
    assert.match(await howTo.innerText(), /Everything/);
    await visit(page, null, 'The Lighthouse Keeper', `title-${name}`);

    // A genre, from the title's genres: every title in it.
    await page.getByRole('list', { name: 'Genres' }).getByRole('link', { name: 'mystery' }).click();
    await page.getByRole('heading', { name: 'Mystery', level: 1 }).waitFor();
    await page.getByRole('link', { name: /Tidewater/ }).waitFor();
    await page.getByRole('link', { name: /The Lighthouse Keeper/ }).waitFor();
    await visit(page, null, 'Mystery', `genre-${name}`);
    await page.goBack();
    await page.getByRole('heading', { name: 'The Lighthouse Keeper', level: 1 }).waitFor();

    // A person's page, from the credits, and back.
    await page.getByRole('link', { name: 'Ada Okonkwo' }).click();
    await visit(page, null, 'Ada Okonkwo', `person-${name}`);
    await page.getByRole('link', { name: 'The Lighthouse Keeper' }).waitFor();
    await page.goBack();

    // Subscribe from the title page: a declined card is said in words, then the test card pays and the page
    // goes back to the title, which now says the subscription covers it.
    await howTo.getByRole('link', { name: 'Subscribe to Standard' }).click();
    await page.getByRole('heading', { name: 'Plans', level: 1 }).waitFor();
    const plan = page.getByRole('listitem').filter({ has: page.getByRole('heading', { name: 'Standard' }) });
    // Every order's Idempotency-Key, and the first paying attempt cut off as a lost connection would.
    const keys = [];
    let cut = false;
    await page.route('**/v1/orders', async (route) => {
      if (route.request().method() !== 'POST') return route.continue();
      keys.push(route.request().headers()['idempotency-key']);
      if (!cut && route.request().postDataJSON().payment_token === 'tok_approve') {
        cut = true;
        return route.abort('connectionreset');
      }
      return route.continue();
    });
    await plan.getByLabel(/declined/).check();
    await plan.getByRole('button', { name: /Subscribe for/ }).click();
    const declined = plan.getByRole('alert');
    await declined.waitFor();
    assert.match(await declined.innerText(), /declined.*nothing was charged/i);
    await visit(page, null, 'Plans', `plans-declined-${name}`);
    await plan.getByLabel('Test card that pays', { exact: false }).first().check();
    await plan.getByRole('button', { name: /Subscribe for/ }).click();
    // The connection drops: said in words, and the retry sends the same key (one charge at most).
    await plan.getByRole('alert').filter({ hasText: /trying again will not charge you twice/ }).waitFor();
    await plan.getByRole('button', { name: /Try again/ }).click();
    await page.getByRole('heading', { name: 'The Lighthouse Keeper', level: 1 }).waitFor();
    await page.unroute('**/v1/orders');
    assert.equal(keys.length, 3);
    assert.ok(keys.every(Boolean), 'every order has an Idempotency-Key');
    assert.notEqual(keys[0], keys[1], 'a new card is a new attempt');
    assert.equal(keys[1], keys[2], 'a retry keeps its key');
    await howTo.getByText('Included in your Standard subscription.').waitFor();

    // Rent a title that no plan covers.
    await page.goto(`${marquee.url}/titles/${ids.harbour}`);
    await page.getByRole('heading', { name: 'Harbour Nights', level: 1 }).waitFor();
    await howTo.getByRole('button', { name: /Rent for/ }).waitFor();
    assert.match(await howTo.innerText(), /3\.99/);
    assert.match(await howTo.innerText(), /12\.99/);
    assert.match(await howTo.innerText(), /Plays for 2 days/);
    if (name === 'desktop') {
      // A card the bank confirms later: the order waits, and the page says so.
      await howTo.getByRole('button', { name: /Buy for/ }).click();
      await howTo.getByLabel(/confirms later/).check();
      await howTo.getByRole('button', { name: /Pay .* to buy/ }).click();
      await howTo.getByText(/Waiting for your bank to confirm/).waitFor();
      await visit(page, null, 'Harbour Nights', 'title-buy-pending-desktop');
    }
    await howTo.getByRole('button', { name: /Rent for/ }).click();
    await visit(page, null, 'Harbour Nights', `title-rent-${name}`);
    await howTo.getByRole('button', { name: /Pay .* to rent/ }).click();
    await howTo.getByText(/You rented this title/).waitFor();

    // A series lists its seasons and episodes.
    await page.goto(`${marquee.url}/titles/${ids.series}`);
    await page.getByRole('heading', { name: 'Season 1' }).waitFor();
    await page.getByRole('link', { name: 'Play Low Water' }).waitFor();
    await visit(page, null, 'Tidewater', `title-series-${name}`);

    // The account: the subscription, the rental and the orders (the declined one said as such); then cancel.
    await page.getByRole('link', { name: email }).click();
    await page.getByRole('heading', { name: 'Your account' }).waitFor();
    await page.getByText(email, { exact: true }).last().waitFor();
    const subscription = page.getByRole('listitem').filter({ has: page.getByRole('heading', { name: 'Standard' }) });
    await subscription.getByText('Active').waitFor();
    await subscription.getByText(/Renews on/).waitFor();
    await page.getByRole('link', { name: 'Harbour Nights' }).waitFor();
    await page.getByText(/Not started: plays for 2 d/).waitFor();
    const orders = page.getByRole('region', { name: 'Orders', exact: true });
    await orders.getByText('Failed').waitFor();
    if (name === 'desktop') await orders.getByText('Waiting for the bank').waitFor();
    assert.match(await orders.innerText(), /card declined/);
    assert.equal(await orders.getByText('Paid').count(), 2);
    await visit(page, null, 'Your account', `account-${name}`);
    await subscription.getByRole('button', { name: 'Cancel subscription' }).click();
    const confirm = page.getByRole('group', { name: 'Cancel Standard?' });
    await confirm.waitFor();
    await visit(page, null, 'Your account', `account-cancel-${name}`);
    await confirm.getByRole('button', { name: 'Cancel now' }).click();
    await subscription.getByText('Canceled', { exact: true }).waitFor();
    await subscription.getByText(/Ended on/).waitFor();
    assert.equal(await subscription.getByRole('button', { name: 'Cancel subscription' }).count(), 0);

    // The dark theme keeps its contrast too.
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.goto(`${marquee.url}/titles/${ids.keeper}`);
    await page.getByRole('region', { name: 'How to watch' }).getByText('Standard', { exact: true }).waitFor();
    await visit(page, null, 'The Lighthouse Keeper', `title-dark-${name}`);

    // The cut-off order is logged by Chromium as a failed load; the page said it in words.
    assertNoProblems(page, [/ERR_CONNECTION_RESET|ERR_FAILED/]);
    await page.context().close();
  });
}

test('a past-due subscription gets a new card from the account (desktop)', async () => {
  // The API cannot make a subscription fall past due on demand (that takes a failed renewal a period later), so
  // this test shows a real active subscription as past due; changing its card goes to the real API.
  const email = 'late-payer@example.com';
  await api(marquee.url, 'POST', '/v1/auth/register', { body: { email, password: 'a long enough password' } });
  const viewer = await token(marquee.url, { email, password: 'a long enough password' });
  const order = await api(marquee.url, 'POST', '/v1/orders', {
    token: viewer,
    body: { plan_id: ids.plan, payment_token: 'tok_renewal_fails' },
    headers: { 'idempotency-key': `late-${Date.now()}` },
  });
  assert.equal(order.state, 'fulfilled');
  const page = await openPage(browser, DESKTOP);
  await page.route('**/v1/subscriptions?*', async (route) => {
    const response = await route.fetch();
    const body = await response.json();
    for (const item of body.items) if (item.state === 'active') Object.assign(item, { state: 'past_due', grace_until: Date.now() + 3 * 86_400_000 });
    await route.fulfill({ response, json: body });
  });
  const puts = [];
  page.on('request', (request) => {
    if (request.method() === 'PUT' && request.url().includes('/payment-method')) puts.push(request.headers()['idempotency-key']);
  });
  await page.goto(`${marquee.url}/signin?next=/account`);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill('a long enough password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Your account' }).waitFor();
  const subscription = page.getByRole('listitem').filter({ has: page.getByRole('heading', { name: 'Standard' }) });
  await subscription.getByText('Payment due').waitFor();
  await subscription.getByText(/could not be charged/).waitFor();
  await subscription.getByRole('button', { name: 'Change the card' }).click();
  await subscription.getByLabel('Test card that pays', { exact: false }).first().check();
  await visit(page, null, 'Your account', 'account-past-due-desktop');
  await subscription.getByRole('button', { name: 'Use this card' }).click();
  await subscription.getByRole('status').filter({ hasText: /active again/ }).waitFor();
  assert.equal(puts.length, 1);
  assert.ok(puts[0], 'the card change carries an Idempotency-Key');
  assertNoProblems(page);
  await page.unrouteAll({ behavior: 'ignoreErrors' });
  await page.context().close();
});

test('an empty search and an unknown title are said in words', async () => {
  const page = await openPage(browser, PHONE);
  await page.goto(`${marquee.url}/search`);
  await page.getByText('Type to search').waitFor();
  await page.goto(`${marquee.url}/titles/no-such-title`);
  await visit(page, null, 'Title not found', 'title-missing');
  assertNoProblems(page, [/404/]);
  await page.context().close();
});
