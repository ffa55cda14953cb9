// Helpers for the operator console (web/console) in Chromium, shared by the console,
// outreach and workbench flows: sign in through the login form, pick an option of an antd
// Select, the independent audience count from `mercator segment`, and polling.

import assert from 'node:assert/strict';

// Signs in through the console's login form and waits for the signed-in header.
export async function signIn(page, baseUrl, { username, password }) {
  await page.goto(`${baseUrl}/console/`);
  await page.fill('#username', username);
  await page.fill('#password', password);
  await page.click('[data-testid=login-submit]');
  await page.waitForSelector('[data-testid=current-user]');
}

// antd Select: open it and pick the option whose text contains `text`.
export async function pick(page, select, text) {
  await select.click();
  const option = page.locator('.ant-select-dropdown:not(.ant-select-dropdown-hidden) .ant-select-item-option', { hasText: text }).first();
  await option.click();
}

// `mercator segment RULE` prints "N of M customers (...)": the independent count.
export function cliCount(stack, rule) {
  const out = stack.cli(['segment', rule]);
  const m = /^(\d+) of (\d+) customers/.exec(out.trim());
  assert.ok(m, `unexpected segment output: ${out}`);
  return Number(m[1]);
}

// Waits until fn() returns a truthy value (polling), or fails naming `what`.
export async function until(what, fn, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    last = await fn();
    if (last) return last;
    await new Promise((r) => setTimeout(r, 300));
  }
  assert.fail(`timed out waiting for ${what}`);
}
