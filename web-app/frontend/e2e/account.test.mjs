// Signing up, in and out through the page, on a phone and a desktop, with no console error and no serious
// accessibility violation.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  assertAccessible,
  assertNoProblems,
  DESKTOP,
  launchBrowser,
  openPage,
  PHONE,
  screenshot,
  signIn,
  startMarquee,
} from './harness.mjs';

let marquee;
let browser;
before(async () => {
  [marquee, browser] = await Promise.all([startMarquee(), launchBrowser()]);
});
after(async () => {
  await browser?.close();
  await marquee?.stop();
});

for (const [name, viewport] of [
  ['phone', PHONE],
  ['desktop', DESKTOP],
]) {
  test(`a viewer signs up, signs out and signs in again (${name})`, async () => {
    const page = await openPage(browser, viewport);
    const email = `viewer-${name}@example.com`;
    await page.goto(`${marquee.url}/signup`);
    await assertAccessible(page, `sign-up page (${name})`);
    await screenshot(page, `signup-${name}`);
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password', { exact: true }).fill('a long enough password');
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.getByRole('link', { name: email }).waitFor();
    assert.equal(new URL(page.url()).pathname, '/');

    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('link', { name: 'Sign in' }).waitFor();

    // A wrong password is said in words on the page.
    await page.goto(`${marquee.url}/signin`);
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill('not the password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    const alert = page.getByRole('alert');
    await alert.waitFor();
    assert.match(await alert.innerText(), /could not sign in/i);
    await assertAccessible(page, `sign-in page with an error (${name})`);

    await signIn(page, marquee.url, { email, password: 'a long enough password' });
    // The session survives a reload (tokens kept in the browser).
    await page.reload();
    await page.getByRole('link', { name: email }).waitFor();
    assertNoProblems(page, [/401/]);
    await page.context().close();
  });
}

test('the admin sees the studio and admin areas; an unknown page says so', async () => {
  const page = await openPage(browser, DESKTOP);
  await signIn(page, marquee.url, marquee.admin);
  await page.getByRole('link', { name: 'Studio', exact: true }).waitFor();
  await page.getByRole('link', { name: 'Admin', exact: true }).waitFor();
  await page.goto(`${marquee.url}/no/such/page`);
  await page.getByRole('heading', { name: 'Page not found' }).waitFor();
  await assertAccessible(page, 'not-found page');
  assertNoProblems(page);
  await page.context().close();
});
