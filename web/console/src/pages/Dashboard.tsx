// Dashboard: active customers (from the last_seen behaviour tag: customers active today, in 7
// and in 30 days), how recently customers were active, lifecycle stages, and the activities
// that run now with their draws and budget burn (overall, today's, and a daily line each).
import { Card, Col, Row, Space, Statistic, Typography } from 'antd';
import ReactECharts from 'echarts-for-react';
import { useEffect, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { api, request } from '../api/client';
import { useAuth } from '../auth';
import type { Activity } from './Activities';
import type { Stats } from './ActivityDetail';
import { CampaignPerformance } from './CampaignPerformance';
import type { Report } from './Campaigns';
import { burnPercent, LiveActivities, type LiveRow } from './LiveActivities';

interface Bucket {
  label: string;
  count: number;
}

// Today in Asia/Shanghai as YYYY-MM-DD and as days since 1970-01-01 (the date tags' unit).
export function shanghaiToday(now = new Date()): { date: string; day: number } {
  const date = new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Shanghai', year: 'numeric', month: '2-digit', day: '2-digit' }).format(now);
  return { date, day: Math.round(Date.parse(`${date}T00:00:00Z`) / 86400000) };
}

export function dayText(day: number): string {
  return new Date(day * 86400000).toISOString().slice(0, 10);
}

export default function Dashboard() {
  const { t } = useTranslation();
  const { can } = useAuth();
  const [kpi, setKpi] = useState<{ total: number; dau: number; wau: number; mau: number } | null>(null);
  const [recency, setRecency] = useState<Bucket[]>([]);
  const [lifecycle, setLifecycle] = useState<Bucket[]>([]);
  const [live, setLive] = useState<LiveRow[]>([]);
  const [events, setEvents] = useState<number | null>(null);
  const [campaigns, setCampaigns] = useState<Report[] | null>(null);

  useEffect(() => {
    if (!can('segments:read')) return;
    const { day } = shanghaiToday();
    const count = (rule: string) => request<{ count: number; total: number }>('POST', '/v1/segments/count', { rule });
    void Promise.all([
      count(`last_seen >= "${dayText(day)}"`),
      count(`last_seen >= "${dayText(day - 6)}"`),
      count(`last_seen >= "${dayText(day - 29)}"`),
    ]).then(([d, w, m]) => setKpi({ total: m.total, dau: d.count, wau: w.count, mau: m.count }), () => setKpi(null));
    const bounds = Array.from({ length: 31 }, (_, i) => day - 29 + i); // one bucket a day, [day-29, day]
    void request<{ buckets: Bucket[] }>('POST', '/v1/segments/breakdown', { rule: '', by: 'last_seen', boundaries: bounds }).then(
      (r) => setRecency(r.buckets.map((b, i) => ({ label: dayText(bounds[i]).slice(5), count: b.count }))),
      () => setRecency([]),
    );
    void request<{ buckets: Bucket[] }>('POST', '/v1/segments/breakdown', { rule: '', by: 'lifecycle' }).then(
      (r) => setLifecycle(r.buckets),
      () => setLifecycle([]),
    );
    void request<{ events: number }>('GET', '/v1/events/stats').then((r) => setEvents(r.events), () => setEvents(null));
  }, [can]);

  useEffect(() => {
    if (!can('activities:read')) return;
    (async () => {
      const rows: LiveRow[] = [];
      let cursor: string | undefined;
      for (let page = 0; page < 10; page++) {
        const r = await api.get('/v1/activities', { query: { cursor, limit: 200 } });
        for (const a of (r.activities ?? []) as Activity[]) {
          if (a.state === 'live' || a.state === 'paused' || a.state === 'scheduled') rows.push({ activity: a, stats: null });
        }
        if (!r.next_cursor) break;
        cursor = r.next_cursor;
      }
      await Promise.all(
        rows.map(async (row) => {
          row.stats = await request<Stats>('GET', `/v1/activities/${row.activity.id}/stats?days=7`).catch(() => null);
        }),
      );
      setLive(rows);
    })().catch(() => setLive([]));
  }, [can]);

  useEffect(() => {
    if (!can('campaigns:read')) return;
    (async () => {
      // The latest campaigns that have started sending, at most 8 (the list pages by id).
      const all: { id: number; status: string }[] = [];
      let cursor: string | undefined;
      for (let page = 0; page < 10; page++) {
        const r = await api.get('/v1/campaigns', { query: { cursor, limit: 200 } });
        all.push(...((r.campaigns ?? []) as { id: number; status: string }[]));
        if (!r.next_cursor) break;
        cursor = r.next_cursor;
      }
      const sent = all
        .filter((c) => ['running', 'paused', 'completed'].includes(c.status))
        .sort((x, y) => y.id - x.id)
        .slice(0, 8);
      const reports = await Promise.all(sent.map((c) => request<Report>('GET', `/v1/campaigns/${c.id}/report`).catch(() => null)));
      setCampaigns(reports.filter((r): r is Report => r !== null).reverse());
    })().catch(() => setCampaigns([]));
  }, [can]);

  return (
    <Space direction="vertical" style={{ width: '100%' }} size="middle">
      <Typography.Title level={4} style={{ margin: 0 }}>
        {t('menu.dashboard')}
      </Typography.Title>
      {can('segments:read') && (
        <>
          <Row gutter={16}>
            {[
              ['dash.customers', kpi?.total],
              ['dash.dau', kpi?.dau],
              ['dash.wau', kpi?.wau],
              ['dash.mau', kpi?.mau],
              ['dash.events', events],
            ].map(([k, v]) => (
              <Col key={k as string} flex={1}>
                <Card size="small">
                  <Statistic title={t(k as string)} value={v ?? '—'} valueRender={(n) => <span data-testid={k as string}>{n}</span>} />
                </Card>
              </Col>
            ))}
          </Row>
          <Row gutter={16}>
            <Col span={16}>
              <Card size="small" title={t('dash.recency')}>
                <ReactECharts
                  style={{ height: 280 }}
                  notMerge
                  option={{
                    tooltip: { trigger: 'axis' },
                    grid: { left: 50, right: 20, top: 20, bottom: 30 },
                    xAxis: { type: 'category', data: recency.map((b) => b.label) },
                    yAxis: { type: 'value' },
                    series: [{ type: 'bar', name: t('dash.lastActive'), data: recency.map((b) => b.count), itemStyle: { color: '#c8102e' } }],
                  }}
                />
              </Card>
            </Col>
            <Col span={8}>
              <Card size="small" title={t('dash.lifecycle')}>
                <ReactECharts
                  style={{ height: 280 }}
                  notMerge
                  option={{
                    tooltip: { trigger: 'item' },
                    legend: { bottom: 0 },
                    series: [{ type: 'pie', radius: ['35%', '65%'], data: lifecycle.map((b) => ({ name: t(`lifecycle.${b.label}`, { defaultValue: b.label }), value: b.count })) }],
                  }}
                />
              </Card>
            </Col>
          </Row>
        </>
      )}
      {can('activities:read') && (
        <Card size="small" title={t('dash.liveActivities')}>
          {live.length > 0 && (
            <ReactECharts
              style={{ height: 260 }}
              notMerge
              option={{
                tooltip: { trigger: 'axis' },
                legend: { top: 0 },
                grid: { left: 50, right: 60, top: 30, bottom: 30 },
                xAxis: { type: 'category', data: live.map((r) => r.activity.name) },
                yAxis: [{ type: 'value', name: t('activity.draws') }, { type: 'value', name: '%', max: 100 }],
                series: [
                  { type: 'bar', name: t('activity.draws'), data: live.map((r) => r.stats?.draws ?? 0), itemStyle: { color: '#c8102e' } },
                  { type: 'bar', name: t('activity.wins'), data: live.map((r) => r.stats?.wins ?? 0), itemStyle: { color: '#fa8c16' } },
                  {
                    type: 'line',
                    yAxisIndex: 1,
                    name: t('dash.budgetBurn'),
                    data: live.map((r) => burnPercent(r.stats) ?? 0),
                  },
                ],
              }}
            />
          )}
          <LiveActivities rows={live} />
        </Card>
      )}
      {can('campaigns:read') && campaigns && (
        <Card size="small" title={t('dash.campaigns')}>
          <CampaignPerformance reports={campaigns} />
        </Card>
      )}
    </Space>
  );
}
