// The H5 activity page: one activity (from the URL, kept in sessionStorage) for the customer of
// the token. Views: the activity by its template (#/), the published rules (#/rules), my prizes
// (#/prizes). Every prize shown comes from the server's draw; the page never knows the odds.
import './style.css';
import { ApiError, H5Api } from './api';
import { h } from './dom';
import { fulfilmentText } from './prizes';
import type { DrawResult } from './prizes';
import { stateOf, stateOfProblem, stateOfStatus } from './states';
import type { PageState } from './states';
import { takeSession } from './token';
import type { ActivityItem, ActivityStatus } from './types';
import { mountLottery } from './lottery';
import { mountSignIn } from './signin';
import { mountQuiz } from './quiz';

const LOTTERIES = new Set(['wheel', 'grid9', 'golden_egg', 'blind_box', 'scratch_card']);

const app = document.getElementById('app')!;
const session = takeSession({
  location: window.location,
  storage: window.sessionStorage,
  replaceUrl: (url) => window.history.replaceState(null, '', url),
});

export interface PageContext {
  api: H5Api;
  status: ActivityStatus;
  /** Re-reads the status (chances left) and updates the header; returns the new status. */
  refresh: () => Promise<ActivityStatus>;
  /** Shows a friendly state over the page. */
  showState: (s: PageState) => void;
  /** Shows the prize the server drew. */
  showResult: (r: DrawResult) => void;
  /** The state for an error of an API call. */
  problemState: (e: unknown) => PageState;
}

function problemState(e: unknown): PageState {
  if (e instanceof ApiError) return stateOfProblem(e.status, e.code);
  return stateOf('error');
}

function stateView(s: PageState): HTMLElement {
  return h(
    'section',
    { class: `state state-${s.kind}`, 'data-testid': 'state', 'data-state': s.kind },
    h('div', { class: 'state-icon', 'aria-hidden': 'true' }, '!'),
    h('h2', {}, s.title),
    h('p', {}, s.message),
  );
}

function nav(active: string): HTMLElement {
  const link = (hash: string, text: string, id: string) =>
    h('a', { href: hash, class: active === hash ? 'active' : '', 'data-testid': id }, text);
  return h('nav', { class: 'tabs' }, link('#/', '活动', 'tab-activity'), link('#/rules', '活动规则', 'tab-rules'), link('#/prizes', '我的奖品', 'tab-prizes'));
}

function chancesText(s: ActivityStatus): string {
  if (s.chances_left === null) return '';
  return `今日剩余机会：${s.chances_left} 次`;
}

async function renderActivity(api: H5Api, id: number): Promise<void> {
  let status = await api.get<ActivityStatus>(`/v1/h5/activities/${id}`);
  document.title = status.title || status.name;
  const chances = h('p', { class: 'chances', 'data-testid': 'chances' }, chancesText(status));
  const body = h('main', { class: 'body' });
  const overlay = h('div', { class: 'overlay hidden', 'data-testid': 'result-dialog' });
  const banner = h('div', { class: 'banner' });
  app.replaceChildren(
    h('header', { class: 'hero' }, h('h1', { 'data-testid': 'title' }, status.title || status.name), chances),
    nav('#/'),
    banner,
    body,
    overlay,
  );

  const ctx: PageContext = {
    api,
    status,
    refresh: async () => {
      status = await api.get<ActivityStatus>(`/v1/h5/activities/${id}`);
      ctx.status = status;
      chances.textContent = chancesText(status);
      // Used the last chance: say so now rather than at the next tap.
      const s = stateOfStatus(status.status);
      if (s.kind !== 'ok') ctx.showState(s);
      return status;
    },
    showState: (s) => banner.replaceChildren(stateView(s)),
    showResult: (r) => {
      overlay.replaceChildren(
        h(
          'div',
          { class: 'dialog', role: 'dialog', 'data-testid': 'result' },
          h('h2', {}, r.won ? '恭喜您获得' : '很遗憾'),
          h('p', { class: 'prize-name', 'data-testid': 'prize-name', 'data-prize-id': r.prize_id, 'data-draw-id': r.draw_id }, r.prize_name),
          h('p', { class: 'hint' }, r.won ? '奖品将发放到您的账户，可在“我的奖品”查看' : '别灰心，下次好运'),
          h('button', { class: 'btn', 'data-testid': 'close-result', onclick: () => overlay.classList.add('hidden') }, '知道了'),
        ),
      );
      overlay.classList.remove('hidden');
    },
    problemState,
  };

  const initial = stateOfStatus(status.status);
  if (initial.kind !== 'ok') ctx.showState(initial);
  else if (status.preview) ctx.showState(stateOf('preview'));
  if (initial.kind === 'activity_ended' || initial.kind === 'not_eligible' || initial.kind === 'activity_not_live') {
    return;
  }
  if (LOTTERIES.has(status.template)) mountLottery(body, ctx);
  else if (status.template === 'sign_in') await mountSignIn(body, ctx);
  else if (status.template === 'quiz') await mountQuiz(body, ctx);
  else ctx.showState(stateOf('error'));
}

interface Rules {
  name: string;
  description: string;
  title: string;
  start: string;
  end: string;
  chances: { free_per_day: number; points_cost: number; max_per_day: number; max_total: number };
  pools: Array<{ id: string; name: string; prizes: Array<{ id: string; name: string; kind: string; per_customer_cap?: number }> }>;
}

function day(iso: string): string {
  return iso ? iso.slice(0, 10) : '';
}

async function renderRules(api: H5Api, id: number): Promise<void> {
  const r = await api.get<Rules>(`/v1/h5/activities/${id}/rules`);
  const c = r.chances;
  const items: string[] = [`活动时间：${day(r.start)} 至 ${day(r.end)}`];
  if (c.free_per_day > 0) items.push(`每天免费参与 ${c.free_per_day} 次`);
  if (c.points_cost > 0) items.push(`免费次数用完后，每次消耗 ${c.points_cost} 积分，每天最多 ${c.max_per_day} 次`);
  if (c.max_total > 0) items.push(`活动期间每人最多参与 ${c.max_total} 次`);
  const prizes = r.pools.flatMap((p) => p.prizes.filter((x) => x.kind !== 'thanks'));
  app.replaceChildren(
    h('header', { class: 'hero small' }, h('h1', {}, r.title || r.name)),
    nav('#/rules'),
    h(
      'main',
      { class: 'body rules', 'data-testid': 'rules' },
      r.description ? h('p', {}, r.description) : null,
      h('h3', {}, '参与规则'),
      h('ul', {}, ...items.map((t) => h('li', {}, t))),
      h('h3', {}, '奖品设置'),
      h('ul', {}, ...[...new Set(prizes.map((p) => p.name))].map((n) => h('li', {}, n))),
      h('p', { class: 'hint' }, '中奖结果以系统抽奖记录为准，奖品将在活动规则约定的时间内发放。'),
    ),
  );
}

interface MyPrize extends DrawResult {
  at: string;
  fulfilment?: { state?: string };
}

async function renderPrizes(api: H5Api, id: number): Promise<void> {
  const { prizes } = await api.get<{ prizes: MyPrize[] }>(`/v1/h5/activities/${id}/prizes`);
  const won = prizes.filter((p) => p.won);
  app.replaceChildren(
    h('header', { class: 'hero small' }, h('h1', {}, '我的奖品')),
    nav('#/prizes'),
    h(
      'main',
      { class: 'body' },
      won.length === 0
        ? h('p', { class: 'empty', 'data-testid': 'no-prizes' }, '还没有奖品，快去参与活动吧')
        : h(
            'ul',
            { class: 'prize-list', 'data-testid': 'prize-list' },
            ...won.map((p) =>
              h(
                'li',
                { 'data-draw-id': p.draw_id },
                h('span', { class: 'name' }, p.prize_name),
                h('span', { class: 'meta' }, `${p.at.slice(0, 10)} ${fulfilmentText(p.fulfilment?.state)}`),
              ),
            ),
          ),
    ),
  );
}

async function renderList(api: H5Api): Promise<void> {
  const { activities } = await api.get<{ activities: ActivityItem[] }>('/v1/h5/activities');
  app.replaceChildren(
    h('header', { class: 'hero small' }, h('h1', {}, '精彩活动')),
    h(
      'main',
      { class: 'body' },
      activities.length === 0
        ? h('p', { class: 'empty' }, '暂无可参与的活动')
        : h(
            'ul',
            { class: 'prize-list' },
            ...activities.map((a) =>
              h(
                'li',
                {},
                h('a', { href: `?activity=${a.id}` }, a.title || a.name),
                h('span', { class: 'meta' }, a.chances_left === null ? '' : `剩余 ${a.chances_left} 次`),
              ),
            ),
          ),
    ),
  );
}

async function render(): Promise<void> {
  if (!session.token) {
    app.replaceChildren(stateView(stateOf('expired')));
    return;
  }
  const api = new H5Api(session.token);
  try {
    if (session.activity === null) return await renderList(api);
    const route = window.location.hash.replace(/^#/, '') || '/';
    if (route === '/rules') await renderRules(api, session.activity);
    else if (route === '/prizes') await renderPrizes(api, session.activity);
    else await renderActivity(api, session.activity);
  } catch (e) {
    app.replaceChildren(nav(window.location.hash || '#/'), stateView(problemState(e)));
  }
}

window.addEventListener('hashchange', () => void render());
void render();
