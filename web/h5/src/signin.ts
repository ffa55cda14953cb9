// Sign-in calendar: this cycle's days, the streak and the next reward; one tap signs in.
import { newKey } from './api';
import { ApiError } from './api';
import { h } from './dom';
import type { PageContext } from './main';
import { rewardText } from './prizes';

interface Day {
  date: string;
  today: boolean;
  signed: boolean;
  make_up?: boolean;
  reward?: unknown;
}
interface Calendar {
  signed_today: boolean;
  streak: number;
  next_reward?: { streak_day: number; date: string; reward: unknown } | null;
  days: Day[];
}

export async function mountSignIn(body: HTMLElement, ctx: PageContext): Promise<void> {
  const path = `/v1/h5/activities/${ctx.status.id}/sign-in`;
  const view = h('div', { class: 'signin', 'data-testid': 'sign-in' });
  body.append(view);
  async function paint(): Promise<void> {
    const cal = await ctx.api.get<Calendar>(path);
    const next = cal.next_reward;
    view.replaceChildren(
      h(
        'div',
        {},
      h('p', { class: 'streak', 'data-testid': 'streak' }, `已连续签到 ${cal.streak} 天`),
      next ? h('p', { class: 'hint' }, `再签到至第 ${next.streak_day} 天可得 ${rewardText(next.reward)}`) : null,
      h(
        'ol',
        { class: 'calendar' },
        ...cal.days.map((d) =>
          h(
            'li',
            { class: `${d.signed ? 'signed' : ''} ${d.today ? 'today' : ''}`, 'data-date': d.date, 'data-signed': String(d.signed) },
            h('span', { class: 'date' }, d.date.slice(5)),
            h('span', { class: 'mark' }, d.signed ? '✓' : d.reward ? rewardText(d.reward) : ''),
          ),
        ),
      ),
      h(
        'button',
        { class: 'btn btn-draw', 'data-testid': 'sign-in-button', disabled: cal.signed_today, onclick: () => void signIn() },
        cal.signed_today ? '今日已签到' : '立即签到',
      ),
      ),
    );
  }
  async function signIn(): Promise<void> {
    try {
      const r = await ctx.api.post<{ streak: number; reward?: unknown; date: string }>(path, {}, newKey());
      const reward = r.reward ? `，获得 ${rewardText(r.reward)}` : '';
      ctx.showResult({ draw_id: '', prize_id: '', prize_name: `签到成功，连续 ${r.streak} 天${reward}`, kind: 'sign_in', won: true });
    } catch (e) {
      if (!(e instanceof ApiError && e.status === 409 && !e.code)) ctx.showState(ctx.problemState(e));
    }
    await paint();
  }
  await paint();
}
