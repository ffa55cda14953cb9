// The dashboard's live activities: per activity, today's draws, wins and prize cost (local days
// of the activity, Asia/Shanghai by default, from GET /v1/activities/{id}/stats), the budget
// burnt so far and a small line of the daily draws.
import { Card, Col, Progress, Row, Space, Statistic, Typography } from 'antd';
import ReactECharts from 'echarts-for-react';
import { useTranslation } from 'react-i18next';
import { Link } from 'react-router-dom';
import { formatYuan } from '../activity/cost';
import { StateTag, type Activity } from './Activities';
import type { Stats } from './ActivityDetail';

export interface LiveRow {
  activity: Activity;
  stats: Stats | null;
}

/** Share of the budget spent in percent with one decimal; null without a budget cap. */
export function burnPercent(stats: Stats | null): number | null {
  if (!stats || !(stats.budget_fen > 0)) return null;
  return Math.min(100, Math.round((stats.budget_spent_fen / stats.budget_fen) * 1000) / 10);
}

/** The ECharts option of the daily draws line (dates as MM-DD, oldest first). */
export function dailyOption(stats: Stats | null, drawsLabel: string, winsLabel: string) {
  const daily = stats?.daily ?? [];
  return {
    tooltip: { trigger: 'axis' },
    grid: { left: 36, right: 8, top: 10, bottom: 22 },
    xAxis: { type: 'category', data: daily.map((d) => d.date.slice(5)), axisLabel: { fontSize: 10 } },
    yAxis: { type: 'value', minInterval: 1, axisLabel: { fontSize: 10 } },
    series: [
      { type: 'line', name: drawsLabel, smooth: true, data: daily.map((d) => d.draws), itemStyle: { color: '#c8102e' }, areaStyle: { opacity: 0.08 } },
      { type: 'line', name: winsLabel, smooth: true, data: daily.map((d) => d.wins), itemStyle: { color: '#fa8c16' } },
    ],
  };
}

export function LiveActivityCard({ row }: { row: LiveRow }) {
  const { t } = useTranslation();
  const { activity, stats } = row;
  const id = activity.id;
  const burn = burnPercent(stats);
  return (
    <Card
      size="small"
      data-testid={`live-${id}`}
      title={
        <Space>
          <Link to={`/activities/${id}`}>{activity.name}</Link>
          <StateTag state={activity.state} />
        </Space>
      }
    >
      <Row gutter={8}>
        <Col span={8}>
          <Statistic title={t('dash.todayDraws')} value={stats?.today?.draws ?? '—'} valueRender={(n) => <span data-testid={`today-draws-${id}`}>{n}</span>} />
        </Col>
        <Col span={8}>
          <Statistic title={t('dash.todayWins')} value={stats?.today?.wins ?? '—'} valueRender={(n) => <span data-testid={`today-wins-${id}`}>{n}</span>} />
        </Col>
        <Col span={8}>
          <Statistic
            title={t('dash.todayCost')}
            value={stats?.today ? `¥${formatYuan(stats.today.cost_fen)}` : '—'}
            valueRender={(n) => <span data-testid={`today-cost-${id}`}>{n}</span>}
          />
        </Col>
      </Row>
      <div style={{ marginTop: 8 }}>
        <Typography.Text type="secondary">{t('dash.budgetBurn')}</Typography.Text>
        {burn === null ? (
          <div data-testid={`budget-burn-${id}`}>
            {stats ? `¥${formatYuan(stats.budget_spent_fen)} · ${t('dash.noBudgetCap')}` : '—'}
          </div>
        ) : (
          <div data-testid={`budget-burn-${id}`}>
            <Progress percent={burn} size="small" status={burn >= 90 ? 'exception' : 'normal'} format={(p) => `${p}%`} />
            <Typography.Text type="secondary">
              ¥{formatYuan(stats!.budget_spent_fen)} / ¥{formatYuan(stats!.budget_fen)}
            </Typography.Text>
          </div>
        )}
      </div>
      {(stats?.daily?.length ?? 0) > 0 && (
        <div data-testid={`daily-${id}`}>
          <Typography.Text type="secondary">{t('dash.dailyDraws', { n: stats!.daily!.length })}</Typography.Text>
          <ReactECharts style={{ height: 120 }} notMerge option={dailyOption(stats, t('activity.draws'), t('activity.wins'))} />
        </div>
      )}
    </Card>
  );
}

export function LiveActivities({ rows }: { rows: LiveRow[] }) {
  const { t } = useTranslation();
  if (rows.length === 0) return <Typography.Text type="secondary">{t('dash.noLive')}</Typography.Text>;
  return (
    <Row gutter={[16, 16]}>
      {rows.map((r) => (
        <Col key={r.activity.id} xs={24} md={12} xl={8}>
          <LiveActivityCard row={r} />
        </Col>
      ))}
    </Row>
  );
}
