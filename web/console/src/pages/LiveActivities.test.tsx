// The dashboard's live activity cards rendered to HTML (node, no browser): today's figures and
// budget burn come from the stats API's answer, and the daily line plots its series.
import { renderToString } from 'react-dom/server';
import { I18nextProvider } from 'react-i18next';
import { MemoryRouter } from 'react-router-dom';
import { describe, expect, it } from 'vitest';
import i18n from '../i18n';
import type { Activity } from './Activities';
import type { Stats } from './ActivityDetail';
import { burnPercent, dailyOption, LiveActivities, type LiveRow } from './LiveActivities';

const daily = [
  { date: '2026-12-09', draws: 0, wins: 0, cost_fen: 0 },
  { date: '2026-12-10', draws: 3, wins: 2, cost_fen: 98 },
  { date: '2026-12-11', draws: 4, wins: 1, cost_fen: 1250 },
];

function stats(extra: Partial<Stats> = {}): Stats {
  return {
    participants: 3,
    draws: 7,
    wins: 3,
    budget_fen: 5000,
    budget_spent_fen: 1348,
    prizes: [],
    draws_per_channel: { app: 7 },
    tz_offset_minutes: 480,
    today: daily[2],
    daily,
    ...extra,
  };
}

function render(rows: LiveRow[], lng = 'en'): string {
  void i18n.changeLanguage(lng);
  return renderToString(
    <I18nextProvider i18n={i18n}>
      <MemoryRouter>
        <LiveActivities rows={rows} />
      </MemoryRouter>
    </I18nextProvider>,
  );
}

// The first text inside the element with this data-testid (antd nests the value in spans).
function textOf(html: string, testid: string): string {
  const at = html.indexOf(`data-testid="${testid}"`);
  if (at < 0) return '';
  const m = /^[^>]*>(?:\s*<[^>]+>)*\s*([^<]*)/.exec(html.slice(at));
  return m ? m[1] : '';
}

const activity = (id: number, name: string): Activity => ({ id, name, state: 'live' }) as Activity;

describe('live activities on the dashboard', () => {
  it("shows each activity's draws, wins and prize cost of today and its budget burn", () => {
    const html = render([
      { activity: activity(12, 'Double 12 wheel'), stats: stats() },
      { activity: activity(13, 'Sign-in'), stats: stats({ budget_fen: 0, budget_spent_fen: 0, today: { date: '2026-12-11', draws: 0, wins: 0, cost_fen: 0 } }) },
    ]);
    expect(html).toContain('Double 12 wheel');
    expect(textOf(html, 'today-draws-12')).toBe('4');
    expect(textOf(html, 'today-wins-12')).toBe('1');
    expect(textOf(html, 'today-cost-12')).toBe('¥12.50');
    // 1348 of 5000 fen: 27%
    expect(html.slice(html.indexOf('data-testid="budget-burn-12"'))).toContain('27%');
    expect(textOf(html, 'today-draws-13')).toBe('0');
    expect(html.slice(html.indexOf('data-testid="budget-burn-13"'))).toContain('no budget cap');
    expect(html).toContain('data-testid="daily-12"');
    expect(html).toContain('Draws a day, last 3 days');
  });

  it('shows dashes while the stats are missing, and the empty state without live activities', () => {
    const html = render([{ activity: activity(20, 'Quiz'), stats: null }]);
    expect(textOf(html, 'today-draws-20')).toBe('—');
    expect(html).not.toContain('data-testid="daily-20"');
    expect(render([], 'zh-CN')).toContain('没有进行中的活动');
  });

  it('plots the daily series oldest first, and the burn rounds to one decimal and caps at 100', () => {
    const o = dailyOption(stats(), 'Draws', 'Wins');
    expect(o.xAxis.data).toEqual(['12-09', '12-10', '12-11']);
    expect(o.series[0].data).toEqual([0, 3, 4]);
    expect(o.series[1].data).toEqual([0, 2, 1]);
    expect(burnPercent(stats({ budget_fen: 3000, budget_spent_fen: 1000 }))).toBe(33.3);
    expect(burnPercent(stats({ budget_fen: 100, budget_spent_fen: 150 }))).toBe(100);
    expect(burnPercent(stats({ budget_fen: 0 }))).toBeNull();
    expect(burnPercent(null)).toBeNull();
  });
});
