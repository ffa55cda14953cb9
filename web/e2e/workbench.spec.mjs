// The manager's workbench in Chromium: a manager linked to a manager id sees the task inbox the
// API gives them, opens a customer's 360, pushes an approved template (the result shown is the
// contact policy's, as the customer's contact history records it), records a follow-up that
// closes the task; the API then has the task done and the follow-up in the KPIs.
import test from 'node:test';
import assert from 'node:assert/strict';
import { signIn } from './console_page.mjs';
import { parsePassword, useStack } from './harness.mjs';

test('manager works a task: 360, push through the contact policy, follow-up closes the task', async (t) => {
  const stack = await useStack(t);
  const opApi = await stack.staff('operator');
  const apApi = await stack.staff('approver');
  // The manager with the most birthday customers this month (the demo's task rules made their
  // tasks at start), so the inbox is not empty; their account is made now.
  const month = Number(new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Shanghai', month: 'numeric' }).format(new Date()));
  const byManager = (await opApi('POST', '/v1/segments/breakdown', { rule: `birth_month = ${month}`, by: 'manager' })).json.buckets;
  const managerId = byManager.filter((b) => /^M\d+$/.test(b.label)).sort((a, b) => b.count - a.count)[0].label;
  const out = stack.cli(['user', 'add', '--username', 'mike', '--role', 'manager', '--manager-id', managerId]);
  stack.users.manager = { username: 'mike', role: 'manager', password: parsePassword(out) };
  const base = stack.baseUrl;
  const mgrApi = await stack.staff('manager');

  // an approved SMS template for the push (operator makes it, approver approves it)
  const tpl = await opApi('POST', '/v1/templates', { name: '生日祝福', channel: 'sms', purpose: 'marketing', body: '【示例银行】{{name}}您好，祝您生日快乐！回T退订' });
  assert.equal(tpl.status, 201, tpl.text);
  const sub = await opApi('POST', `/v1/templates/${tpl.json.id}/submit`);
  assert.ok(sub.json.approval_id, sub.text);
  assert.equal((await apApi('POST', `/v1/approvals/${sub.json.approval_id}/approve`, { comment: 'ok' })).status, 200);

  // the task rules run once at start; run them again as the admin so the inbox is current
  const adminApi = await stack.staff('admin');
  const run = await adminApi('POST', '/v1/workbench/rules/run', {});
  assert.equal(run.status, 200, run.text);
  const tasks = (await mgrApi('GET', '/v1/workbench/tasks?status=open&limit=200')).json.tasks;
  assert.ok(tasks.length > 0, 'the manager has open tasks');
  // the customer of the first task consents to marketing SMS (then only quiet hours or caps
  // can stop the push)
  const consent = await opApi('POST', `/v1/customers/${encodeURIComponent(tasks[0].customer)}/consents`, { channel: 'sms', purpose: 'marketing', granted: true, source: 'branch_form', text_version: 'v1' });
  assert.ok(consent.status < 300, consent.text);

  const page = await stack.newPage();
  await signIn(page, base, stack.users.manager);
  assert.equal(await page.locator('[data-testid=menu-workbench]').count(), 1);
  assert.equal(await page.locator('[data-testid=menu-activities]').count(), 1); // managers read activities
  await page.goto(`${base}/console/workbench`);
  await page.waitForSelector('.ant-table-row');
  // the inbox lists exactly the API's open tasks (first page of 20)
  const rows = page.locator('.ant-tabs-tabpane-active .ant-table-row');
  assert.equal(await rows.count(), Math.min(20, tasks.length));
  const task = tasks[0];
  await stack.screenshot(page, 'workbench-inbox');

  // open the first task's customer
  await page.locator('.ant-tabs-tabpane-active .ant-table-row').first().locator('a').click();
  const drawer = page.locator('.ant-drawer-content');
  await drawer.locator(`text=${task.customer}`).first().waitFor();

  // push: the outcome shown is the contact policy's
  const push = drawer.locator('.ant-card', { hasText: '一键推送' });
  await push.locator('.ant-select').first().click();
  await page.locator('.ant-select-dropdown:not(.ant-select-dropdown-hidden) .ant-select-item-option', { hasText: '生日祝福' }).click();
  await push.locator('input').last().fill('王先生');
  await push.locator('button[type=submit]').click();
  const outcome = push.locator('.ant-alert');
  await outcome.waitFor();
  const contacts = (await opApi('GET', `/v1/customers/${encodeURIComponent(task.customer)}/contacts`)).json;
  assert.equal(contacts.messages.length, 1, 'one message in the contact history');
  const last = contacts.messages[0];
  assert.equal(last.origin, 'manager:mike');
  const shown = await outcome.textContent();
  const reasons = { no_consent: '未授权', opted_out: '已退订', cap_day: '超出每日上限', cap_week: '超出每周上限', quiet_hours: '免打扰时段', duplicate: '重复发送', do_not_disturb: '免打扰名单' };
  if (last.status === 'sent') assert.match(shown, /已发送/);
  else assert.ok(shown.includes('已拦截') && shown.includes(reasons[last.reason] ?? last.reason), `${shown} vs ${JSON.stringify(last)}`);

  // follow-up closing the task
  const fu = drawer.locator('.ant-card', { hasText: '记录跟进' });
  await fu.locator('textarea').fill('电话祝福，客户表示感谢');
  await fu.locator('.ant-select').nth(2).click(); // 对应任务
  await page.locator('.ant-select-dropdown:not(.ant-select-dropdown-hidden) .ant-select-item-option', { hasText: task.title }).first().click();
  await fu.locator('button[type=submit]').click();
  await page.waitForSelector('text=已记录');
  await stack.screenshot(page, 'workbench-360');

  const after = (await mgrApi('GET', `/v1/workbench/tasks/${task.id}`)).json;
  assert.equal(after.status, 'done');
  const kpis = (await mgrApi('GET', '/v1/workbench/kpis')).json;
  assert.equal(kpis.follow_ups, 1);
});
