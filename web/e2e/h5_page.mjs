// Helpers for the H5 activity pages (web/h5) in Chromium, shared by h5.spec.mjs and the console
// flow: create and approve an activity through the API, obtain a customer token as the app
// back-end, open the page in a phone-sized viewport, spin once, and read the server's draw log.
//
//   const id = await createLiveActivity(stack, wheelTerms({ title: '幸运大转盘' }));
//   const customer = await someCustomer(stack);
//   const page = await openH5(stack, { customer, activity: id });
//   const shown = await spinOnce(page);                 // { name, prizeId, drawId }
//   const log = await drawLog(stack, id);               // Map draw_id -> prize_id (the oracle)

// One staff session per stack and account (sign-ins are rate-limited per address).
const sessions = new WeakMap();
function staffOf(stack, who) {
  let m = sessions.get(stack);
  if (!m) sessions.set(stack, (m = new Map()));
  if (!m.has(who)) m.set(who, stack.staff(who));
  return m.get(who);
}

/** A phone: 375 x 812 CSS pixels, touch, zh-CN. */
export const PHONE = {
  viewport: { width: 375, height: 812 },
  deviceScaleFactor: 2,
  isMobile: true,
  hasTouch: true,
  locale: 'zh-CN',
};

/** "2026-12-10T02:00:00+00:00" for a Date (the activity terms' time form). */
export function termsTime(date) {
  return date.toISOString().replace(/\.\d{3}Z$/, '+00:00');
}

/** The activity window: from yesterday to a month from now. */
export function window30() {
  const now = Date.now();
  return { start: termsTime(new Date(now - 86_400_000)), end: termsTime(new Date(now + 30 * 86_400_000)) };
}

/** A wheel offered on h5 with three prizes and `freePerDay` free draws. */
export function wheelTerms({
  name = 'H5 转盘',
  title = '幸运大转盘',
  freePerDay = 1,
  channels = ['h5', 'app'],
  template = 'wheel',
  settings = { spin_ms: 1500 },
} = {}) {
  return {
    name,
    description: '每天免费抽奖，百分百有机会中奖',
    eligibility: { channels, ...window30() },
    chances: { free_per_day: freePerDay },
    pools: [
      {
        group: 'default',
        pool: {
          id: 'default',
          name: '默认奖池',
          fallback_prize_id: 'thanks',
          prizes: [
            { id: 'p10', name: '10 积分', kind: 'points', weight: 1, total_stock: 1000, reward_ref: '10' },
            { id: 'p88', name: '88 积分', kind: 'points', weight: 1, total_stock: 100, reward_ref: '88' },
            { id: 'thanks', name: '谢谢参与', kind: 'thanks', weight: 1, total_stock: -1 },
          ],
        },
      },
    ],
    budget_fen: 0,
    display: { template, title, settings },
  };
}

/** A 7-day sign-in calendar offered on h5. */
export function signInTerms({ name = 'H5 签到', title = '每日签到有礼' } = {}) {
  return {
    name,
    eligibility: { channels: ['h5', 'app'], ...window30() },
    chances: { free_per_day: 0 },
    display: {
      template: 'sign_in',
      title,
      settings: {
        cycle_days: 7,
        missed_day: 'resets_streak',
        streak_rewards: [
          { day: 1, reward: { kind: 'points', amount: 5 } },
          { day: 3, reward: { kind: 'points', amount: 20 } },
        ],
      },
    },
  };
}

/** A one-question quiz offered on h5 (the answer is the second option). */
export function quizTerms({ name = 'H5 答题', title = '答题赢积分' } = {}) {
  return {
    name,
    eligibility: { channels: ['h5', 'app'], ...window30() },
    chances: { free_per_day: 0 },
    display: {
      template: 'quiz',
      title,
      settings: {
        questions: [{ text: '金卡的年费是多少？', options: ['0 元', '100 元'], answers: [1], score: 10 }],
        pass_score: 10,
        reward: { kind: 'points', amount: 50 },
        attempts_per_day: 2,
      },
    },
  };
}

/** Creates the activity as the operator, submits it, approves it as the approver; its id. */
export async function createLiveActivity(stack, terms) {
  const op = await staffOf(stack, 'operator');
  const created = await op('POST', '/v1/activities', terms);
  if (created.status !== 201) throw new Error(`create activity: ${created.status} ${created.text}`);
  const id = created.json.id;
  const submitted = await op('POST', `/v1/activities/${id}/submit`);
  if (submitted.status !== 202) throw new Error(`submit: ${submitted.status} ${submitted.text}`);
  const ap = await staffOf(stack, 'approver');
  const approved = await ap('POST', `/v1/approvals/${submitted.json.approval_id}/approve`, { comment: 'e2e' });
  if (approved.status !== 200) throw new Error(`approve: ${approved.status} ${approved.text}`);
  const live = await op('GET', `/v1/activities/${id}`);
  if (live.json.state !== 'live') throw new Error(`activity ${id} is ${live.json.state}, not live`);
  return id;
}

/** External ids of demo customers (a sample of everyone), `n` of them. */
export async function someCustomers(stack, n = 3) {
  const op = await staffOf(stack, 'operator');
  const sample = await op('POST', '/v1/segments/sample', { rule: 'age >= 0', limit: n });
  if (sample.status !== 200 || sample.json.external_ids.length < n) {
    throw new Error(`sample customers: ${sample.status} ${sample.text}`);
  }
  return sample.json.external_ids;
}

/** A customer token as the app back-end obtains it (signed, draw scope). */
export async function obtainToken(stack, customer, activity, channel) {
  const body = { customer };
  if (activity) body.activity = activity;
  if (channel) body.channel = channel; // default h5: the activity must be offered on it
  const res = await stack.signed('POST', '/v1/h5/tokens', body);
  if (res.status !== 201) throw new Error(`token for ${customer}: ${res.status} ${res.text}`);
  return res.json;
}

/**
 * Opens the H5 page for a customer token (or obtains one for `customer`, on `channel`, default
 * h5) and an activity in a phone-sized context; waits until the page shows the activity or a
 * state.
 */
export async function openH5(stack, { token, customer, activity, channel }) {
  const t = token ?? (await obtainToken(stack, customer, activity, channel)).token;
  const page = await stack.newPage(PHONE);
  await page.goto(`${stack.baseUrl}/h5/?token=${encodeURIComponent(t)}&activity=${activity}`);
  await page.waitForSelector('[data-testid="title"], [data-testid="state"]');
  return page;
}

/**
 * Plays once and returns the prize the page shows ({name, prizeId, drawId}): presses the draw
 * button (wheel, 9-grid), taps the first egg or box, or draws a scratch card and scratches it.
 */
export async function spinOnce(page) {
  const controls = '[data-testid="draw"], [data-testid="egg-0"], [data-testid="box-0"]';
  await page.locator(`${controls}, [data-testid="state"]`).first().waitFor();
  if (!(await page.locator(controls).count())) {
    const state = page.locator('[data-testid="state"]');
    throw new Error(`the H5 page shows "${await state.getAttribute('data-state')}" instead of a draw: ${await state.textContent()}`);
  }
  if (await page.locator('[data-testid="egg-0"], [data-testid="box-0"]').count()) {
    await page.locator('[data-testid="egg-0"], [data-testid="box-0"]').first().click();
  } else {
    await page.click('[data-testid="draw"]');
  }
  if (await page.locator('[data-testid="scratch"]').count()) await scratch(page);
  const shown = page.locator('[data-testid="prize-name"]');
  await shown.waitFor({ state: 'visible', timeout: 20_000 });
  const result = {
    name: (await shown.textContent()).trim(),
    prizeId: await shown.getAttribute('data-prize-id'),
    drawId: await shown.getAttribute('data-draw-id'),
  };
  return result;
}

/** Scratches the card with the mouse, row by row, until the page shows the result. */
async function scratch(page) {
  const canvas = page.locator('[data-testid="scratch"] canvas');
  await canvas.waitFor();
  const box = await canvas.boundingBox();
  // The card samples the pointer every 16 ms: move in small steps with pauses.
  for (let y = box.y + 10; y < box.y + box.height; y += 20) {
    if (await page.locator('[data-testid="result"]').count()) break;
    await page.mouse.move(box.x + 5, y);
    await page.mouse.down();
    for (let x = box.x + 5; x < box.x + box.width; x += 12) {
      await page.mouse.move(x, y);
      await page.waitForTimeout(20);
    }
    await page.mouse.up();
  }
}

/** Closes the result dialog. */
export async function closeResult(page) {
  await page.click('[data-testid="close-result"]');
  await page.locator('[data-testid="result-dialog"]').waitFor({ state: 'hidden' });
}

/** The operator's draw log of the activity (GET /v1/activities/{id}/draws): draw id -> prize id. */
export async function drawLog(stack, id) {
  const op = await staffOf(stack, 'operator');
  const csv = await op('GET', `/v1/activities/${id}/draws`);
  if (csv.status !== 200) throw new Error(`draw log: ${csv.status} ${csv.text}`);
  const [header, ...rows] = csv.text.trim().split('\n');
  const cols = header.split(',');
  const drawCol = cols.indexOf('draw_id');
  const prizeCol = cols.indexOf('prize_id');
  const log = new Map();
  for (const row of rows) {
    const f = row.split(',');
    log.set(f[drawCol], f[prizeCol]);
  }
  return log;
}

/** The prize names of the activity's published terms, by prize id (operator view). */
export async function prizeNames(stack, id) {
  const op = await staffOf(stack, 'operator');
  const a = await op('GET', `/v1/activities/${id}`);
  const names = new Map();
  for (const g of a.json.terms.pools) for (const p of g.pool.prizes) names.set(p.id, p.name);
  return names;
}
