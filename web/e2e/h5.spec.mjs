// The H5 activity pages in Debian Chromium at 375 px: the app back-end obtains a customer token,
// the page spins and shows the prize the server's draw log recorded, then "no chances left";
// a sign-in calendar; an ineligible customer's friendly state. Screenshots in screenshots/.
import test from 'node:test';
import assert from 'node:assert/strict';
import { useStack } from './harness.mjs';
import {
  closeResult,
  createLiveActivity,
  drawLog,
  obtainToken,
  openH5,
  prizeNames,
  quizTerms,
  signInTerms,
  someCustomers,
  spinOnce,
  wheelTerms,
} from './h5_page.mjs';

test('H5 wheel: the prize on the page is the draw in the log; then no chances left', async (t) => {
  const stack = await useStack(t, { customers: 300 });
  const id = await createLiveActivity(stack, wheelTerms({ freePerDay: 1 }));
  const [customer] = await someCustomers(stack, 1);
  const token = await obtainToken(stack, customer, id);
  assert.equal(token.expires_in, 900);

  const page = await openH5(stack, { token: token.token, activity: id });
  // The token left the address bar at once.
  assert.ok(!page.url().includes('token='), page.url());
  assert.equal(await page.locator('[data-testid="title"]').textContent(), '幸运大转盘');
  assert.match(await page.locator('[data-testid="chances"]').textContent(), /1 次/);
  // The page fits a 375 px phone: nothing wider than the viewport.
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(width <= 375, `page is ${width}px wide`);
  await stack.screenshot(page, 'h5-wheel');

  const shown = await spinOnce(page);
  await stack.screenshot(page, 'h5-wheel-result');
  const log = await drawLog(stack, id);
  assert.equal(log.size, 1, 'one draw in the log');
  const [[drawId, prizeId]] = [...log.entries()];
  const names = await prizeNames(stack, id);
  assert.equal(shown.drawId, drawId);
  assert.equal(shown.prizeId, prizeId);
  assert.equal(shown.name, names.get(prizeId), `the page shows ${shown.name}, the log says ${prizeId}`);

  // The operator's stats count it.
  const op = await stack.staff('operator');
  const stats = await op('GET', `/v1/activities/${id}/stats`);
  assert.equal(stats.json.draws, 1, stats.text);

  // The second spin: no chances left, as a friendly state (not an error).
  await closeResult(page);
  await page.click('[data-testid="draw"]');
  const state = page.locator('[data-testid="state"]');
  await state.waitFor({ state: 'visible' });
  assert.equal(await state.getAttribute('data-state'), 'no_chances_left');
  assert.match(await state.textContent(), /今日机会已用完/);
  assert.equal((await drawLog(stack, id)).size, 1, 'no second draw');
  await stack.screenshot(page, 'h5-no-chances');

  // My prizes and the rules page; neither shows odds or stock.
  await page.click('[data-testid="tab-rules"]');
  await page.locator('[data-testid="rules"]').waitFor();
  const rules = await page.locator('[data-testid="rules"]').textContent();
  assert.match(rules, /每天免费参与 1 次/);
  assert.doesNotMatch(rules, /概率|库存|probability|stock/);
  await stack.screenshot(page, 'h5-rules');
  await page.click('[data-testid="tab-prizes"]');
  await page.locator('[data-testid="prize-list"], [data-testid="no-prizes"]').first().waitFor();
  if (prizeId !== 'thanks') {
    assert.match(await page.locator('[data-testid="prize-list"]').textContent(), new RegExp(names.get(prizeId)));
  }
  await stack.screenshot(page, 'h5-my-prizes');

  // A reload keeps the session (the token is in sessionStorage, not in the URL).
  await page.click('[data-testid="tab-activity"]');
  await page.reload();
  await page.locator('[data-testid="title"]').waitFor();
});

test('H5 sign-in calendar and the not-eligible state', async (t) => {
  const stack = await useStack(t, { customers: 300 });
  const id = await createLiveActivity(stack, signInTerms());
  const [customer] = await someCustomers(stack, 1);
  const page = await openH5(stack, { customer, activity: id });
  const button = page.locator('[data-testid="sign-in-button"]');
  await button.waitFor();
  assert.equal((await button.textContent()).trim(), '立即签到');
  await button.click();
  const shown = page.locator('[data-testid="prize-name"]');
  await shown.waitFor({ state: 'visible' });
  assert.match(await shown.textContent(), /签到成功，连续 1 天，获得 5 积分/);
  await page.click('[data-testid="close-result"]');
  await page.locator('[data-testid="sign-in-button"]:has-text("今日已签到")').waitFor();
  await stack.screenshot(page, 'h5-sign-in');
  // The server's record agrees: the app back-end's view of the calendar.
  const cal = await stack.signed('GET', `/v1/app/activities/${id}/sign-in?customer=${encodeURIComponent(customer)}`);
  assert.equal(cal.status, 200, cal.text);
  assert.equal(cal.json.signed_today, true);
  assert.equal(cal.json.streak, 1);

  // A quiz: the page never has the answers; the server scores the choice.
  const quiz = await createLiveActivity(stack, quizTerms());
  const qp = await openH5(stack, { customer, activity: quiz });
  await qp.locator('[data-testid="quiz"]').waitFor();
  assert.ok(!(await qp.content()).includes('answers'), 'no answers in the page');
  await qp.check('input[name="q0"][value="1"]');
  await qp.click('[data-testid="quiz-submit"]');
  const verdict = qp.locator('[data-testid="prize-name"]');
  await verdict.waitFor({ state: 'visible' });
  assert.match(await verdict.textContent(), /答对 10\/10 分，获得 50 积分/);
  await stack.screenshot(qp, 'h5-quiz');

  // A wheel offered on the app only: an h5 token's customer is not eligible.
  const appOnly = await createLiveActivity(stack, wheelTerms({ name: 'App only', channels: ['app'] }));
  const denied = await openH5(stack, { customer, activity: appOnly });
  const state = denied.locator('[data-testid="state"]');
  await state.waitFor();
  assert.equal(await state.getAttribute('data-state'), 'not_eligible');
  assert.equal(await denied.locator('[data-testid="draw"]').count(), 0);
  await stack.screenshot(denied, 'h5-not-eligible');
});

test('H5 9-grid, golden egg, blind box and scratch card show the drawn prize', async (t) => {
  const stack = await useStack(t, { customers: 300 });
  const customers = await someCustomers(stack, 1);
  for (const [template, settings] of [
    ['grid9', {}],
    ['golden_egg', { eggs: 3 }],
    ['blind_box', { boxes: 6 }],
    ['scratch_card', { cover_text: '刮开有奖' }],
  ]) {
    const id = await createLiveActivity(stack, wheelTerms({ name: template, title: template, template, settings }));
    const page = await openH5(stack, { customer: customers[0], activity: id });
    await stack.screenshot(page, `h5-${template}`);
    const shown = await spinOnce(page);
    await stack.screenshot(page, `h5-${template}-result`);
    const log = await drawLog(stack, id);
    assert.equal(log.size, 1, template);
    assert.equal(log.get(shown.drawId), shown.prizeId, template);
    assert.equal(shown.name, (await prizeNames(stack, id)).get(shown.prizeId), template);
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(width <= 375, `${template} is ${width}px wide`);
  }
});
