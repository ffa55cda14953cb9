// The operator console in real Chromium against a real server with a demo bank:
//   an operator signs in, builds an audience in the visual builder and in the DSL and sees its
//   live count (checked against `mercator segment`), saves it, creates a wheel activity with two
//   prize pools (the cost forecast's group sizes checked against the CLI), submits it; an
//   approver approves it in the approval queue; an eligible customer draws (through the H5 page
//   when web/e2e/h5_page.mjs provides it, else as the app back-end with a signed call) and the
//   console's stats show the draw the server's draw log recorded.
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { cliCount, pick, signIn } from './console_page.mjs';
import { useStack } from './harness.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));

async function searchPick(page, select, typed, text = typed) {
  await select.click();
  await page.keyboard.type(typed);
  const option = page.locator('.ant-select-dropdown:not(.ant-select-dropdown-hidden) .ant-select-item-option', { hasText: text }).first();
  await option.click();
}

async function liveCount(page, expected) {
  // The count follows the rule after a debounce; wait for the expected figure, and report the
  // last one seen if it never comes.
  const el = page.locator('[data-testid=live-count]');
  const deadline = Date.now() + 10_000;
  let seen = '';
  while (Date.now() < deadline) {
    seen = (await el.textContent()) ?? '';
    if (seen.replace(/,/g, '') === String(expected)) return;
    await page.waitForTimeout(200);
  }
  assert.equal(seen.replace(/,/g, ''), String(expected), 'live count in the builder');
}

// Sets an antd date-time picker by typing into it.
async function typeDate(page, testId, text) {
  const input = page.locator(`[data-testid=${testId}] input, input[data-testid=${testId}]`).first();
  await input.click();
  await input.press('Control+A');
  await input.pressSequentially(text);
  await input.press('Enter');
  await page.keyboard.press('Escape');
}

function shanghai(ms) {
  // "YYYY-MM-DD HH:mm:ss" as the picker shows it (the browser runs in the machine's zone).
  const d = new Date(ms);
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

test('operator builds an audience and a wheel; approver approves; the draw shows in the stats', async (t) => {
  const stack = await useStack(t);
  const base = stack.baseUrl;
  const opApi = await stack.staff('operator');

  // --- operator: sign in --------------------------------------------------------------------
  const op = await stack.newPage();
  // a wrong password is refused with the API's problem shown on the form
  await op.goto(`${base}/console/`);
  await op.fill('#username', stack.users.operator.username);
  await op.fill('#password', 'not-the-password');
  await op.click('[data-testid=login-submit]');
  await op.waitForSelector('[data-testid=login-error]');
  assert.match(await op.locator('[data-testid=login-error]').textContent(), /username or password is not correct/);
  await signIn(op, base, stack.users.operator);
  assert.equal(await op.locator('[data-testid=current-user]').textContent(), stack.users.operator.username);
  // an operator's menu has audiences and activities but not the audit log
  assert.equal(await op.locator('[data-testid=menu-activities]').count(), 1);
  assert.equal(await op.locator('[data-testid=menu-audit]').count(), 0);
  await stack.screenshot(op, 'dashboard');

  // --- audience builder: the visual tree --------------------------------------------------
  await op.goto(`${base}/console/audiences/new`);
  await op.click('[data-testid=add-cond]');
  let cond = op.locator('[data-testid=cond]').nth(0);
  await searchPick(op, cond.locator('[data-testid=cond-field]'), '(age)');
  await pick(op, cond.locator('[data-testid=cond-op]'), '介于');
  await cond.locator('[data-testid=cond-value-0]').fill('25');
  await cond.locator('[data-testid=cond-value-1]').fill('45');
  await op.click('[data-testid=add-cond]');
  cond = op.locator('[data-testid=cond]').nth(1);
  await searchPick(op, cond.locator('[data-testid=cond-field]'), '(level)');
  const values = cond.locator('[data-testid=cond-value]');
  await values.click();
  await op.keyboard.type('gold');
  await op.keyboard.press('Enter');
  await op.keyboard.type('platinum');
  await op.keyboard.press('Enter');
  await op.keyboard.press('Escape');
  const rule1 = 'age between 25 and 45 and level in ("gold", "platinum")';
  assert.equal(await op.locator('[data-testid=dsl-text]').inputValue(), rule1, 'the builder prints the DSL');
  const count1 = cliCount(stack, rule1);
  assert.ok(count1 > 0 && count1 < 2000, `a selective rule (${count1})`);
  await liveCount(op, count1);

  // --- the DSL text drives the tree --------------------------------------------------------
  const rule2 = 'age between 25 and 45 and level in ("gold", "platinum") and has(products, "fund")';
  await op.locator('[data-testid=dsl-text]').fill(`age BETWEEN 25 AND 45 and level IN ('gold','platinum') and HAS(products, "fund")`);
  assert.equal(await op.locator('[data-testid=cond]').count(), 3, 'three conditions in the tree');
  const count2 = cliCount(stack, rule2);
  assert.ok(count2 < count1);
  await liveCount(op, count2);
  // a syntax error is shown under the text, with its column
  await op.locator('[data-testid=dsl-text]').fill('age between 25 45');
  assert.match(await op.locator('[data-testid=dsl-error]').textContent(), /column 16/);
  await op.locator('[data-testid=dsl-text]').fill(rule2);
  await liveCount(op, count2);
  // an unknown tag is refused by the server, inline
  await op.locator('[data-testid=dsl-text]').fill('nosuchtag = 1');
  await op.waitForSelector('[data-testid=dsl-error]');
  assert.match(await op.locator('[data-testid=dsl-error]').textContent(), /nosuchtag/);
  await op.locator('[data-testid=dsl-text]').fill(rule2);
  await liveCount(op, count2);
  await op.waitForTimeout(500); // charts
  await stack.screenshot(op, 'audience-builder');

  const audienceName = '25-45岁金卡白金基金客户';
  await op.fill('[data-testid=audience-name]', audienceName);
  await op.click('[data-testid=audience-save]');
  await op.waitForURL(/\/console\/audiences\/\d+$/);
  const audiences = (await opApi('GET', '/v1/audiences')).json.audiences;
  const saved = audiences.find((a) => a.name === audienceName);
  assert.ok(saved, 'the audience is saved');
  assert.equal(saved.rule, rule2);
  assert.equal((await opApi('GET', `/v1/audiences/${saved.id}`)).json.count, count2);

  // --- activity wizard: a wheel with two prize pools -----------------------------------------
  await op.goto(`${base}/console/activities/new`);
  await op.fill('[data-testid=activity-name]', '双11幸运大转盘');
  await op.fill('[data-testid=activity-title]', '幸运大转盘');
  await op.click('[data-testid=wizard-next]');
  await op.locator('label', { hasText: '已存人群' }).first().click();
  await pick(op, op.locator('[data-testid=eligibility-audience]'), audienceName);
  const now = Date.now();
  await typeDate(op, 'eligibility-start', shanghai(now - 60_000));
  await typeDate(op, 'eligibility-end', shanghai(now + 7 * 86400_000));
  await op.click('[data-testid=wizard-next]');
  await op.fill('[data-testid=budget]', '1000');
  await op.click('[data-testid=wizard-next]');

  // pool 1 (default group): 100 points or thanks
  const fillPrize = async (pool, row, { name, ref, cost, stock }) => {
    const r = op.locator(`[data-testid=prize-row-${pool}-${row}]`);
    await r.locator('[data-testid=prize-name]').fill(name);
    if (ref !== undefined) await r.locator('[data-testid=prize-ref]').fill(ref);
    if (cost !== undefined) await r.locator('[data-testid=prize-cost]').fill(cost);
    if (stock !== undefined) await r.locator('[data-testid=prize-stock]').fill(stock);
  };
  await op.locator('[data-testid=pool-0] [data-testid=pool-name]').fill('大众奖池');
  await fillPrize(0, 0, { name: '100积分', cost: '1', stock: '500' });
  await fillPrize(0, 1, { name: '谢谢参与' });
  // pool 2, matched first: platinum customers
  await op.click('[data-testid=add-pool]');
  await op.locator('[data-testid=pool-0] [data-testid=pool-name]').fill('白金奖池');
  await op.locator('[data-testid=pool-0] [data-testid=pool-id]').fill('platinum');
  await op.locator('[data-testid=pool-0] [data-testid=pool-group-rule]').fill('level = "platinum"');
  await fillPrize(0, 0, { name: '500积分', ref: '500', cost: '5', stock: '100' });
  await fillPrize(0, 1, { name: '谢谢参与' });

  // the forecast's group sizes: the first matching group wins
  await op.click('[data-testid=cost-run]');
  const rows = op.locator('[data-testid=cost-calculator] tbody tr');
  await rows.nth(1).waitFor();
  const members = async (i) => Number(((await rows.nth(i).locator('td').nth(2).textContent()) ?? '').replace(/,/g, ''));
  await stack.screenshot(op, 'activity-wizard-pools');
  assert.equal(await members(0), cliCount(stack, `(${rule2}) and (level = "platinum")`));
  assert.equal(await members(1), cliCount(stack, `(${rule2}) and not (level = "platinum")`));
  await stack.screenshot(op, 'activity-wizard-pools');

  // the server refuses a points prize without its amount: the error lands on that field
  await op.click('[data-testid=wizard-save]');
  const refError = op.locator('[data-testid=prize-row-1-0] .ant-form-item-explain-error');
  await refError.waitFor();
  assert.match(await refError.textContent(), /number of points/);
  assert.equal((await opApi('GET', '/v1/activities')).json.activities.length, 0, 'nothing saved');
  await stack.screenshot(op, 'activity-wizard-field-error');
  await op.locator('[data-testid=prize-row-1-0] [data-testid=prize-ref]').fill('100');

  // the wizard's preview saves the draft and shows its H5 page read-only (a staff preview token)
  await op.click('[data-testid=wizard-preview]');
  const preview = op.frameLocator('[data-testid=wizard-preview-frame]');
  await preview.locator('[data-testid=state][data-state=preview]').waitFor();
  assert.equal(await preview.locator('[data-testid=title]').textContent(), '幸运大转盘');
  const draft = (await opApi('GET', '/v1/activities')).json.activities;
  assert.equal(draft.length, 1, 'the preview saved one draft');
  assert.equal(draft[0].state, 'draft');
  await op.waitForTimeout(800); // the wheel's first paint
  await stack.screenshot(op, 'activity-wizard-preview');
  await op.keyboard.press('Escape');
  await op.locator('[data-testid=wizard-preview-frame]').waitFor({ state: 'detached' });

  await op.click('[data-testid=wizard-submit]');
  await op.waitForURL(/\/console\/activities\/\d+$/);
  const activityId = Number(/activities\/(\d+)$/.exec(op.url())[1]);
  let activity = (await opApi('GET', `/v1/activities/${activityId}`)).json;
  assert.equal(activity.state, 'submitted');
  assert.equal(activity.terms.display.template, 'wheel');
  assert.deepEqual(activity.terms.pools.map((p) => p.pool.id), ['platinum', 'pool1']);
  assert.deepEqual(activity.terms.pools[0].group, { rule: 'level = "platinum"' });
  assert.equal(activity.terms.eligibility.audience_id, saved.id);
  assert.equal(activity.terms.budget_fen, 100000);
  assert.equal(activity.terms.pools[1].pool.prizes[0].cost_fen, 100);
  const approvalId = activity.latest.approval_id;
  assert.ok(approvalId);
  await stack.screenshot(op, 'activity-submitted');

  // --- approver ------------------------------------------------------------------------------
  const ap = await stack.newPage();
  await signIn(ap, base, stack.users.approver);
  assert.equal(await ap.locator('[data-testid=menu-approvals]').count(), 1);
  assert.equal(await ap.locator('[data-testid=menu-audiences]').count(), 1); // approvers read audiences
  await ap.goto(`${base}/console/approvals`);
  await ap.waitForSelector(`[data-testid=review-${approvalId}]`);
  await ap.click(`[data-testid=review-${approvalId}]`);
  await ap.waitForSelector('.ant-drawer-content >> text=白金奖池');
  await stack.screenshot(ap, 'approval-review');
  await ap.keyboard.press('Escape');
  await ap.click(`[data-testid=approve-${approvalId}]`);
  await ap.fill('[data-testid=decide-comment]', '规则、奖品与预算已核对');
  await stack.screenshot(ap, 'approval-decide');
  await ap.click('#decide-ok');
  await ap.waitForSelector(`[data-testid=approve-${approvalId}]`, { state: 'detached' });
  activity = (await opApi('GET', `/v1/activities/${activityId}`)).json;
  assert.equal(activity.state, 'live');
  const approval = (await opApi('GET', `/v1/approvals/${approvalId}`)).json;
  assert.equal(approval.status, 'approved');
  assert.equal(approval.decided_by, `user:${stack.users.approver.username}`);
  assert.equal(approval.comment, '规则、奖品与预算已核对');

  // --- an eligible customer draws -------------------------------------------------------------
  const sample = (await opApi('POST', '/v1/segments/sample', { rule: `(${rule2}) and level = "platinum"`, limit: 1 })).json;
  const fallbackSample = (await opApi('POST', '/v1/segments/sample', { rule: rule2, limit: 1 })).json;
  const customer = sample.external_ids[0] ?? fallbackSample.external_ids[0];
  assert.ok(customer, 'an eligible customer');
  let draw;
  const h5Page = path.join(here, 'h5_page.mjs');
  if (fs.existsSync(h5Page)) {
    // The customer's H5 page (web/h5) with a token the app back-end obtained: spin once.
    const h5 = await import(pathToFileURL(h5Page).href);
    const page = await h5.openH5(stack, { customer, activity: activityId });
    const shown = await h5.spinOnce(page);
    await stack.screenshot(page, 'h5-wheel-result');
    draw = { draw_id: shown.drawId, prize_id: shown.prizeId ?? '', name: shown.name };
  } else {
    t.diagnostic('web/e2e/h5_page.mjs not found: drawing as the app back-end');
    const r = await stack.signed('POST', `/v1/app/activities/${activityId}/draw`, { customer, channel: 'app' }, { 'Idempotency-Key': `e2e-${Date.now()}` });
    assert.equal(r.status, 201, r.text);
    draw = { draw_id: r.json.draw_id, prize_id: r.json.prize_id, name: r.json.prize_name };
  }
  assert.ok(draw.draw_id, 'a draw result');
  // the server's draw log (CSV) records exactly this draw
  const log = await opApi('GET', `/v1/activities/${activityId}/draws`);
  assert.equal(log.status, 200);
  const [header, ...lines] = log.text.trim().split('\n');
  assert.equal(lines.length, 1, 'one draw in the log');
  const cols = header.split(',');
  const rec = Object.fromEntries(lines[0].split(',').map((v, i) => [cols[i], v]));
  assert.equal(rec.draw_id, String(draw.draw_id));
  assert.equal(rec.prize_id, draw.prize_id);
  // the customer's level decides the pool: platinum customers draw from the platinum pool
  const level = (await opApi('GET', `/v1/customers/${encodeURIComponent(customer)}`)).json.tags.level;
  assert.equal(rec.pool_id, level === 'platinum' ? 'platinum' : 'pool1');
  const pool = activity.terms.pools.find((p) => p.pool.id === rec.pool_id).pool;
  if (rec.prize_id) assert.equal(draw.name, pool.prizes.find((p) => p.id === rec.prize_id).name, 'the prize shown is the one drawn');
  draw.pool_id = rec.pool_id;

  // --- the console's stats show it --------------------------------------------------------------
  await op.goto(`${base}/console/activities/${activityId}`);
  await op.waitForSelector('[data-testid=stat-draws]');
  assert.equal(await op.locator('[data-testid=stat-draws]').textContent(), '1');
  assert.equal(await op.locator('[data-testid=stat-participants]').textContent(), '1');
  if (draw.prize_id) {
    assert.equal(await op.locator(`[data-testid=awarded-${draw.pool_id}-${draw.prize_id}]`).textContent(), '1');
  }
  await op.waitForTimeout(1200); // chart animations
  await stack.screenshot(op, 'activity-stats');

  // --- the other pages render for the operator ------------------------------------------------
  await op.goto(`${base}/console/activities`);
  await op.waitForSelector(`text=双11幸运大转盘`);
  await stack.screenshot(op, 'activities');
  // the marketing calendar shows the activity on today's cell (Asia/Shanghai)
  await op.goto(`${base}/console/calendar`);
  const today = new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Shanghai', year: 'numeric', month: '2-digit', day: '2-digit' }).format(new Date());
  await op.waitForSelector(`[data-testid=day-${today}] >> text=双11幸运大转盘`);
  await stack.screenshot(op, 'calendar');
  await op.goto(`${base}/console/dashboard`);
  await op.waitForSelector('[data-testid="dash.customers"]');
  await op.waitForTimeout(800);
  assert.equal((await op.locator('[data-testid="dash.customers"]').textContent()).replace(/,/g, ''), '2000');
  // today's draws of the live wheel: the one draw above (the preview drew nothing)
  await op.waitForSelector(`[data-testid=today-draws-${activityId}]`);
  assert.equal(await op.locator(`[data-testid=today-draws-${activityId}]`).textContent(), '1');
  await op.waitForTimeout(1200); // chart animations
  await stack.screenshot(op, 'dashboard');
  // --- a quiz from the wizard: a single-choice answer is stored as a list of option indexes --
  await op.goto(`${base}/console/activities/new`);
  await op.locator('[data-testid=template] label', { hasText: '答题' }).click();
  await op.fill('[data-testid=activity-name]', '金融知识答题');
  await op.fill('[data-testid=activity-title]', '答题赢积分');
  await op.locator('input[placeholder="题干"]').fill('金卡年费是多少？');
  await op.locator('.ant-select', { hasText: '选项' }).first().click();
  for (const o of ['0元', '100元']) {
    await op.keyboard.type(o);
    await op.keyboard.press('Enter');
  }
  await op.keyboard.press('Escape');
  await op.locator('.ant-select', { hasText: '正确答案' }).first().click();
  await op.locator('.ant-select-dropdown:not(.ant-select-dropdown-hidden) .ant-select-item-option[title="0元"]').click();
  await op.click('[data-testid=wizard-save]');
  await op.waitForURL(/\/console\/activities\/\d+$/);
  const quizId = Number(/activities\/(\d+)$/.exec(op.url())[1]);
  const quiz = (await opApi('GET', `/v1/activities/${quizId}`)).json;
  assert.equal(quiz.state, 'draft');
  assert.deepEqual(quiz.terms.display.settings.questions, [{ text: '金卡年费是多少？', type: 'single', options: ['0元', '100元'], answers: [0], score: 10 }]);
  assert.deepEqual(quiz.terms.display.settings.reward, { kind: 'points', amount: 50 });

  await op.goto(`${base}/console/dashboard`);
  await op.waitForSelector('[data-testid="dash.customers"]');
  await op.click('[data-testid=lang-switch] >> text=EN');
  await op.waitForSelector('text=Running activities');
  await op.waitForTimeout(1200); // chart animations
  await stack.screenshot(op, 'dashboard-en');
});
