// Campaigns and journeys in real Chromium against a real server with a demo bank:
//   an operator builds a campaign (audience rule, channel plan, template variables), sees the
//   preview's figures (checked against `mercator segment` and the holdout worked by hand) and
//   the message for a sample member, has a bad rule refused inline by the API, saves and
//   submits it; an approver approves it in the queue; it runs, and the report page's sent
//   figure equals the sandbox gateway's outbox counted through the API and its delivered figure
//   the delivered receipts the test posts as the SMS platform (signed webhook) for that outbox;
//   an operator builds a date-triggered journey, sees its preview (customers entering on each
//   day of the window, checked against `mercator segment` day by day; the holdout split; the
//   path; the message for a sample member), has a bad duration refused inline, saves and
//   submits it; an approver approves it and the journey is live.
import test from 'node:test';
import assert from 'node:assert/strict';
import { cliCount, pick, signIn, until } from './console_page.mjs';
import { useStack } from './harness.mjs';

async function approvedTemplate(opApi, apApi, body) {
  const tpl = await opApi('POST', '/v1/templates', body);
  assert.equal(tpl.status, 201, tpl.text);
  const sub = await opApi('POST', `/v1/templates/${tpl.json.id}/submit`);
  assert.ok(sub.json?.approval_id, sub.text);
  const ok = await apApi('POST', `/v1/approvals/${sub.json.approval_id}/approve`, { comment: 'ok' });
  assert.equal(ok.status, 200, ok.text);
  return tpl.json;
}

// The pending approval of an object, as the approver's queue lists it.
async function pendingApproval(apApi, type, id) {
  return until(`a pending ${type} approval`, async () => {
    const r = await apApi('GET', '/v1/approvals?status=pending&limit=200');
    assert.equal(r.status, 200, r.text);
    return (r.json.approvals ?? []).find((a) => a.object_type === type && String(a.object_id) === String(id));
  }, 15_000);
}

async function approveInQueue(stack, page, approvalId, comment) {
  await page.goto(`${stack.baseUrl}/console/approvals`);
  await page.waitForSelector(`[data-testid=approve-${approvalId}]`);
  await page.click(`[data-testid=approve-${approvalId}]`);
  await page.fill('[data-testid=decide-comment]', comment);
  await page.click('#decide-ok');
  await page.waitForSelector(`[data-testid=approve-${approvalId}]`, { state: 'detached' });
}

// Waits until the form item that holds `selector` shows no error (an edit clears a stale one).
async function noFieldError(page, selector) {
  const item = page.locator('.ant-form-item', { has: page.locator(selector) }).last();
  await item.locator('.ant-form-item-explain-error').first().waitFor({ state: 'detached' });
}

// The inline error of the form item that holds `selector`.
async function fieldError(page, selector) {
  const item = page.locator('.ant-form-item', { has: page.locator(selector) }).last();
  const err = item.locator('.ant-form-item-explain-error');
  await err.first().waitFor();
  return (await err.allTextContents()).join(' ');
}

async function statistic(page, testId) {
  const v = page.locator(`[data-testid=${testId}] .ant-statistic-content-value`);
  return Number(((await v.textContent()) ?? '').replace(/,/g, ''));
}

// Every message the sandbox gateway received (all pages of the outbox).
async function outbox(api) {
  const out = [];
  let cursor = '';
  for (;;) {
    const r = await api('GET', `/v1/outreach/sandbox/outbox?limit=200${cursor ? `&cursor=${cursor}` : ''}`);
    assert.equal(r.status, 200, r.text);
    out.push(...r.json.messages);
    if (!r.json.next_cursor) return out;
    cursor = r.json.next_cursor;
  }
}

test('operator builds a campaign with a preview; approver approves; the report matches the outbox', async (t) => {
  // The API client plays the SMS platform too: it posts the delivery receipts.
  const stack = await useStack(t, { clientScopes: 'events,webhooks' });
  const base = stack.baseUrl;
  const opApi = await stack.staff('operator');
  const apApi = await stack.staff('approver');
  // No quiet hours (start = end), so the run does not depend on the hour CI runs at.
  const policy = await opApi('PUT', '/v1/contact-policy', { quiet_hours: { start: '00:00', end: '00:00' } });
  assert.equal(policy.status, 200, policy.text);
  await approvedTemplate(opApi, apApi, { name: '理财新品短信', channel: 'sms', purpose: 'marketing', body: '【示例银行】{{name}}您好，{{product}}今日开售，回T退订' });

  const rule = 'level = "platinum"';
  const members = cliCount(stack, rule);
  assert.ok(members > 20, `the audience (${members})`);
  // The demo bank records no consent: 20 members consent to marketing SMS, the rest are
  // suppressed (no_consent) and never reach the gateway.
  const consenting = (await opApi('POST', '/v1/segments/sample', { rule, limit: 20 })).json.external_ids;
  assert.equal(consenting.length, 20);
  for (const c of consenting) {
    const r = await opApi('POST', `/v1/customers/${encodeURIComponent(c)}/consents`, { channel: 'sms', purpose: 'marketing', granted: true, source: 'branch_form', text_version: 'v1' });
    assert.ok(r.status < 300, r.text);
  }

  // --- operator builds the campaign ---------------------------------------------------------
  const op = await stack.newPage();
  await signIn(op, base, stack.users.operator);
  await op.goto(`${base}/console/campaigns`);
  await op.click('button:has-text("新建")');
  await op.waitForURL(/\/campaigns\/new$/);
  await op.fill('#name', '白金客户理财新品');
  await op.check('input[type=radio][value=rule]');
  await op.fill('[data-testid=campaign-rule]', 'level = ');
  await op.click('[data-testid=plan-0-remove]'); // SMS only
  await pick(op, op.locator('[data-testid=plan-0-template]'), '理财新品短信');
  await op.fill('[data-testid=campaign-variables]', 'product=稳盈90天');
  // the API refuses the rule (a value is missing), on the rule's own field
  await op.click('[data-testid=campaign-save]');
  assert.match(await fieldError(op, '[data-testid=campaign-rule]'), /column \d+|expected|value/i);
  assert.match(op.url(), /\/campaigns\/new$/, 'nothing saved');
  await op.fill('[data-testid=campaign-rule]', rule);
  await noFieldError(op, '[data-testid=campaign-rule]');

  // the preview: the audience now, the members left after the 10% holdout, the message
  await op.click('[data-testid=campaign-preview]');
  await op.waitForSelector('[data-testid=campaign-preview-card]');
  assert.equal(Number(await op.locator('[data-testid=preview-members]').textContent()), members);
  assert.equal(Number(await op.locator('[data-testid=preview-treated]').textContent()), Math.round(members * 0.9));
  const sample = (await op.locator('[data-testid=preview-sample]').textContent()).trim();
  assert.match(JSON.stringify((await opApi('GET', `/v1/customers/${encodeURIComponent(sample)}`)).json), /platinum/, 'the sample is a member');
  const body = (await op.locator('[data-testid=preview-body-0]').textContent()).trim();
  assert.match(body, /^【示例银行】\S*\*\S*您好，稳盈90天今日开售，回T退订$/, 'the name is masked, the variable filled');
  await stack.screenshot(op, 'campaign-builder-preview');

  await op.click('[data-testid=campaign-save]');
  await op.waitForURL(/\/campaigns\/\d+$/);
  const campaignId = Number(/\/campaigns\/(\d+)$/.exec(op.url())[1]);
  await op.click('[data-testid=campaign-submit]');
  const approval = await pendingApproval(apApi, 'campaign', campaignId);

  // --- approver -----------------------------------------------------------------------------
  const ap = await stack.newPage();
  await signIn(ap, base, stack.users.approver);
  await approveInQueue(stack, ap, approval.id, '受众、渠道与文案已核对');

  // --- it runs; the report agrees with the gateway ------------------------------------------
  const done = await until('the campaign to complete', async () => {
    const c = (await opApi('GET', `/v1/campaigns/${campaignId}`)).json;
    return c.status === 'completed' ? c : null;
  }, 120_000);
  assert.equal(done.status, 'completed');
  const messages = await outbox(opApi);
  assert.ok(messages.length > 0, 'some consenting members were outside the holdout');
  assert.ok(messages.length <= 20);
  for (const m of messages) {
    assert.ok(consenting.includes(m.customer), `${m.customer} consented`);
    assert.equal(m.channel, 'sms');
    assert.match(m.body, /稳盈90天今日开售/);
  }
  assert.equal(new Set(messages.map((m) => m.customer)).size, messages.length, 'one message a customer');
  // The platform reports: delivered for all but the last two, failed for one, nothing yet for
  // the other. Delivered is what the receipts say, not what was sent.
  const delivered = messages.slice(0, -2);
  for (const [i, m] of messages.entries()) {
    if (i === messages.length - 1) continue;
    const status = i < messages.length - 2 ? 'delivered' : 'failed';
    const r = await stack.signed('POST', '/v1/webhooks/receipts', { message_id: String(m.message_id), status, ...(status === 'failed' ? { reason: 'MK:0005 handset off' } : {}) });
    assert.equal(r.status, 200, r.text);
  }
  await op.reload();
  await op.waitForSelector('[data-testid=report-sent]');
  await until('the report page to show the sends', async () => (await statistic(op, 'report-sent')) === messages.length, 15_000);
  assert.equal(await statistic(op, 'report-sent'), messages.length, 'sent = the outbox');
  assert.equal(await statistic(op, 'report-delivered'), delivered.length, 'delivered = the delivered receipts');
  assert.equal(await statistic(op, 'report-audience'), members);
  assert.equal(await statistic(op, 'report-treated') + (await statistic(op, 'report-holdout')), members);
  await stack.screenshot(op, 'campaign-report');
  const after = (await opApi('GET', `/v1/campaigns/${campaignId}/report`)).json;
  assert.equal(after.sent, messages.length);
  assert.equal(after.delivered, delivered.length);
});

// The next `n` runs of "every week on `weekdays` at HH:MM" in Beijing time (UTC+8, no DST),
// worked out day by day: the oracle of the builder's preview.
function weeklyRuns(weekdays, hh, mm, n, now = Date.now()) {
  const names = ['周日', '周一', '周二', '周三', '周四', '周五', '周六'];
  const out = [];
  for (let k = 0; out.length < n && k < 60; k++) {
    const local = new Date(now + 8 * 3600_000 + k * 86_400_000); // its UTC fields are Beijing's
    const at = Date.UTC(local.getUTCFullYear(), local.getUTCMonth(), local.getUTCDate(), hh, mm) - 8 * 3600_000;
    const iso = local.getUTCDay() === 0 ? 7 : local.getUTCDay();
    if (at > now && weekdays.includes(iso)) {
      out.push({ ms: at, text: `${local.toISOString().slice(0, 10)} ${String(hh).padStart(2, '0')}:${String(mm).padStart(2, '0')} ${names[local.getUTCDay()]}` });
    }
  }
  return out;
}

test('operator builds a weekly recurring campaign; the next runs and the summary match the rule', async (t) => {
  const stack = await useStack(t);
  const base = stack.baseUrl;
  const opApi = await stack.staff('operator');
  const apApi = await stack.staff('approver');
  await approvedTemplate(opApi, apApi, { name: '每周理财早报', channel: 'sms', purpose: 'marketing', body: '【示例银行】{{name}}您好，本周理财精选已更新，回T退订' });

  const op = await stack.newPage();
  await signIn(op, base, stack.users.operator);
  await op.goto(`${base}/console/campaigns/new`);
  await op.fill('#name', '每周理财早报');
  await op.check('[data-testid=campaign-scope] input[value=rule]');
  await op.fill('[data-testid=campaign-rule]', 'level = "gold"');
  await op.click('[data-testid=plan-0-remove]'); // SMS only
  await pick(op, op.locator('[data-testid=plan-0-template]'), '每周理财早报');
  await op.check('[data-testid=campaign-schedule] input[value=recurring]');
  await op.waitForSelector('[data-testid=recur-weekdays]');
  // every week (the default) at 10:00 (the default) with no weekday: the API refuses the
  // weekdays, on the weekday checkboxes
  await op.click('[data-testid=campaign-save]');
  assert.match(await fieldError(op, '[data-testid=recur-weekdays]'), /weekday|required/i);
  assert.match(op.url(), /\/campaigns\/new$/, 'nothing saved');
  await op.locator('[data-testid=recur-weekdays] label', { hasText: '周一' }).click();
  await op.locator('[data-testid=recur-weekdays] label', { hasText: '周四' }).click();
  await noFieldError(op, '[data-testid=recur-weekdays]');

  // the next five runs, in Beijing time, as worked out day by day here
  const runs = await op.locator('[data-testid=recur-next-runs] li').allTextContents();
  assert.deepEqual(runs, weeklyRuns([1, 4], 10, 0, 5).map((r) => r.text));
  await stack.screenshot(op, 'campaign-builder-recurring');

  await op.click('[data-testid=campaign-save]');
  await op.waitForURL(/\/campaigns\/\d+$/);
  const id = Number(/\/campaigns\/(\d+)$/.exec(op.url())[1]);
  const saved = (await opApi('GET', `/v1/campaigns/${id}`)).json;
  assert.deepEqual(saved.definition.recurrence, { every: 'week', at: '10:00', weekdays: [1, 4] });
  assert.match(await op.locator('[data-testid=recur-summary]').textContent(), /每周一、周四 10:00/);

  await op.click('[data-testid=campaign-submit]');
  const approval = await pendingApproval(apApi, 'campaign', id);
  const ok = await apApi('POST', `/v1/approvals/${approval.id}/approve`, { comment: '周期与文案已核对' });
  assert.equal(ok.status, 200, ok.text);
  // approved: the series' next run is the first run the builder showed (recomputed now, in
  // case a run time passed meanwhile)
  const series = await until('the series to plan its next run', async () => {
    const c = (await opApi('GET', `/v1/campaigns/${id}`)).json;
    return c.next_run_at ? c : null;
  }, 15_000);
  assert.equal(Date.parse(series.next_run_at), weeklyRuns([1, 4], 10, 0, 1)[0].ms);
  await op.reload();
  // shown in Beijing time, whatever the browser's zone
  assert.equal((await op.locator('[data-testid=recur-next-run-at]').textContent()).trim(), weeklyRuns([1, 4], 10, 0, 1)[0].text);

  // the list shows the series with its summary
  await op.goto(`${base}/console/campaigns`);
  const row = op.locator('tr', { has: op.locator(`a[href$="/campaigns/${id}"]`) });
  await row.locator('[data-testid=recur-summary]').waitFor();
  assert.match(await row.locator('[data-testid=recur-summary]').textContent(), /每周一、周四 10:00/);
  await stack.screenshot(op, 'campaign-list-recurring');

  // a daily series due within 90 s (through the API): its first run is a campaign of
  // its own, listed on the series' report and linking to its own report, which links back
  // At least 30 s ahead (the minute of now + 90 s): approved before it, due within 90 s.
  // A service notice: a marketing run waits out the quiet hours (20:00-09:00 Beijing time),
  // and this test must not depend on the time of day it runs at.
  const due = new Date(Date.now() + 8 * 3600_000 + 90_000); // Beijing time in UTC fields
  const hhmm = due.toISOString().slice(11, 16);
  const notice = await approvedTemplate(opApi, apApi, { name: '账户服务提醒', channel: 'sms', purpose: 'service', body: '【示例银行】{{name}}您好，您的账户服务提醒已更新，回T退订' });
  const daily = await opApi('POST', '/v1/campaigns', {
    name: '每日提醒', purpose: 'service', audience: { rule: 'level = "gold"' }, channels: [{ channel: 'sms', template_id: notice.id, cost_fen: 5 }],
    recurrence: { every: 'day', at: hhmm, max_runs: 3 },
  });
  assert.equal(daily.status, 201, daily.text);
  await opApi('POST', `/v1/campaigns/${daily.json.id}/submit`);
  const dailyApproval = await pendingApproval(apApi, 'campaign', daily.json.id);
  assert.equal((await apApi('POST', `/v1/approvals/${dailyApproval.id}/approve`, { comment: 'ok' })).status, 200);
  // The first run, once it has sent to its audience (its figures no longer change).
  const firstRun = await until('the first run, completed', async () => {
    const r = (await opApi('GET', `/v1/campaigns?parent=${daily.json.id}`)).json;
    return r.campaigns?.find((c) => c.run_no === 1 && c.status === 'completed');
  }, 200_000);
  await op.goto(`${base}/console/campaigns/${daily.json.id}`);
  await op.waitForSelector(`[data-testid=campaign-runs] [data-testid=run-link-1]`);
  assert.match(await op.locator('[data-testid=recur-summary]').textContent(), new RegExp(`每天 ${hhmm}，最多 3 次`));
  const report = (await opApi('GET', `/v1/campaigns/${daily.json.id}/report`)).json;
  const runRow = op.locator('[data-testid=campaign-runs] tr', { has: op.locator('[data-testid=run-link-1]') });
  const cells = await runRow.locator('td').allTextContents();
  const r1 = report.runs.find((r) => r.campaign.run_no === 1);
  assert.equal(cells[3], String(r1.audience), 'audience');
  assert.equal(cells[4], String(r1.sent), 'sent');
  await stack.screenshot(op, 'campaign-series-report');
  await op.click('[data-testid=run-link-1]');
  await op.waitForURL(new RegExp(`/campaigns/${firstRun.id}$`));
  await op.waitForSelector('[data-testid=run-of]');
  assert.match(await op.locator('[data-testid=run-of]').textContent(), new RegExp(`第 1 次.*#${daily.json.id}`));
});

// "YYYY-MM-DD" of the local day `k` days after today in Asia/Shanghai.
function shanghaiDay(k) {
  const d = new Date(Date.now() + 8 * 3600_000 + k * 86_400_000);
  return d.toISOString().slice(0, 10);
}

test('operator builds a journey with a preview; approver approves; it is live', async (t) => {
  const stack = await useStack(t);
  const base = stack.baseUrl;
  const opApi = await stack.staff('operator');
  const apApi = await stack.staff('approver');
  const tpl = await approvedTemplate(opApi, apApi, { name: '到期提醒短信', channel: 'sms', purpose: 'marketing', body: '【示例银行】{{name}}您好，您的{{product}}将于7天后到期，回T退订' });

  // Customers enter on day D when their deposit matures on D + 7: the oracle per day.
  const window = Array.from({ length: 7 }, (_, k) => ({ date: shanghaiDay(k), n: cliCount(stack, `deposit_maturity = "${shanghaiDay(k + 7)}"`) }));
  const total = window.reduce((s, d) => s + d.n, 0);
  assert.ok(total > 0, 'some deposits mature in the window');

  const op = await stack.newPage();
  await signIn(op, base, stack.users.operator);
  await op.goto(`${base}/console/journeys`);
  await op.click('[data-testid=journey-new]');
  await op.waitForURL(/\/journeys\/new$/);
  await op.fill('[data-testid=journey-name]', '定期到期提醒');
  await op.check('input[type=radio][value=date]');
  await pick(op, op.locator('[data-testid=journey-date-tag]'), 'deposit_maturity');
  await op.fill('[data-testid=journey-offset]', '-7');
  // step 0: the SMS, then a wait, then a task for the manager
  await op.fill('[data-testid=step-0-id]', 'remind');
  await pick(op, op.locator('[data-testid=step-0-template]'), '到期提醒短信');
  await op.fill('[data-testid=step-0-variables]', 'product=三年定期');
  await op.click('[data-testid=journey-add-step]');
  await op.fill('[data-testid=step-1-id]', 'wait3');
  await op.fill('[data-testid=step-1-duration]', '3x');
  await pick(op, op.locator('[data-testid=step-0-next]'), 'wait3');
  await pick(op, op.locator('[data-testid=journey-goal]'), '定期存入');
  // the API refuses the duration, on the step's own field
  await op.click('[data-testid=journey-preview]');
  assert.match(await fieldError(op, '[data-testid=step-1-duration]'), /duration|\dd|unit|3x/i);
  await op.fill('[data-testid=step-1-duration]', '3d');
  await noFieldError(op, '[data-testid=step-1-duration]');

  await op.click('[data-testid=journey-preview]');
  await op.waitForSelector('[data-testid=journey-preview-card]');
  assert.equal(Number(await op.locator('[data-testid=preview-admitted]').textContent()), total);
  const tags = await op.locator('[data-testid=preview-days] .ant-tag').allTextContents();
  assert.deepEqual(tags, window.map((d) => `${d.date.slice(5)}: ${d.n}`), 'customers entering each day');
  // holdout 10% (the default) of the window's entrants
  const heldOut = Math.round(total * 0.1);
  assert.equal(Number(await op.locator('[data-testid=preview-heldout]').textContent()), heldOut);
  assert.equal(Number(await op.locator('[data-testid=preview-treated]').textContent()), total - heldOut);
  const flow = await op.locator('[data-testid=flow-line]').allTextContents();
  assert.equal(flow.length, 3, flow.join(' | '));
  assert.match(flow[0], /remind.*短信.*到期提醒短信/);
  assert.match(flow[1], /wait3.*3d/);
  assert.match(flow[2], /结束/);
  const sample = (await op.locator('[data-testid=preview-sample]').textContent()).trim();
  const inWindow = cliCount(stack, `deposit_maturity between "${shanghaiDay(7)}" and "${shanghaiDay(13)}"`);
  assert.equal(inWindow, total, 'the window as one range');
  const maturity = /deposit_maturity\W+(\d{4}-\d\d-\d\d)/.exec(JSON.stringify((await opApi('GET', `/v1/customers/${encodeURIComponent(sample)}`)).json));
  assert.ok(maturity && maturity[1] >= shanghaiDay(7) && maturity[1] <= shanghaiDay(13), `the sample matures in the window (${maturity?.[1]})`);
  const body = (await op.locator('[data-testid=preview-send-remind] [data-testid=preview-body]').textContent()).trim();
  assert.match(body, /^【示例银行】\S*\*\S*您好，您的三年定期将于7天后到期，回T退订$/);
  await stack.screenshot(op, 'journey-builder-preview');

  await op.click('[data-testid=journey-save]');
  await op.waitForURL(/\/journeys\/\d+$/);
  const journeyId = Number(/\/journeys\/(\d+)$/.exec(op.url())[1]);
  const saved = (await opApi('GET', `/v1/journeys/${journeyId}`)).json;
  assert.deepEqual(saved.definition.trigger, { type: 'date', tag: 'deposit_maturity', offset_days: -7 });
  assert.deepEqual(saved.definition.steps[0], { id: 'remind', type: 'action', action: 'send', channel: 'sms', template_id: String(tpl.id), purpose: 'marketing', variables: { product: '三年定期' }, next: 'wait3' });
  // the draft's page previews the stored definition the same way before it is submitted
  await op.click('[data-testid=journey-preview]');
  await op.waitForSelector('[data-testid=journey-preview-card]');
  assert.equal(Number(await op.locator('[data-testid=preview-admitted]').textContent()), total);
  assert.equal(await op.locator('[data-testid=flow-line]').count(), 3);
  await stack.screenshot(op, 'journey-draft-preview');
  await op.click('[data-testid=journey-submit]');
  const approval = await pendingApproval(apApi, 'journey', journeyId);

  const ap = await stack.newPage();
  await signIn(ap, base, stack.users.approver);
  await approveInQueue(stack, ap, approval.id, '触发、路径与文案已核对');
  const live = (await opApi('GET', `/v1/journeys/${journeyId}`)).json;
  assert.equal(live.state, 'live');
  assert.equal(live.live.version, 1);
  await op.reload();
  await op.waitForSelector('text=运行中');
  await stack.screenshot(op, 'journey-live');

  // The live journey's report lists its stuck entries from the server: none (no action can
  // fail transiently here; the console's own tests cover the list with entries). The operator
  // is offered retry and exit, disabled without a selection; the approver (journeys:read only)
  // sees the list without them. The per-step table names the definition's steps.
  await op.waitForSelector('[data-testid=stuck-entries] >> text=没有卡住的条目');
  assert.equal(await op.locator('[data-testid=stuck-retry]').isDisabled(), true);
  assert.equal(await op.locator('[data-testid=stuck-exit]').isDisabled(), true);
  for (const step of ['remind', 'wait3']) assert.equal(await op.locator(`[data-testid=step-stuck-${step}]`).textContent(), '0');
  await ap.goto(`${base}/console/journeys/${journeyId}`);
  await ap.waitForSelector('[data-testid=stuck-entries] >> text=没有卡住的条目');
  assert.equal(await ap.locator('[data-testid=stuck-retry]').count(), 0);
  // What the console reads from the answers: an id that is not stuck comes back in not_stuck.
  const answer = await opApi('POST', `/v1/journeys/${journeyId}/stuck/retry`, { entry_ids: [987654] });
  assert.equal(answer.status, 200, JSON.stringify(answer.json));
  assert.deepEqual([answer.json.retried, answer.json.not_stuck], [[], [987654]]);
});
