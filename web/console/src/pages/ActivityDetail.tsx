// One activity: state and lifecycle actions, the terms (pools with odds), versions with their
// approvals, and live statistics from the draw engine (refreshed every 5 s).
import { Alert, App, Button, Card, Col, Descriptions, Popconfirm, Progress, Row, Space, Statistic, Table, Tabs, Tag, Typography } from 'antd';
import ReactECharts from 'echarts-for-react';
import { useCallback, useEffect, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { useNavigate, useParams } from 'react-router-dom';
import { api, request } from '../api/client';
import { ApiError } from '../api/problem';
import { useAuth } from '../auth';
import { formatYuan } from '../activity/cost';
import type { Prize, Terms } from '../activity/terms';
import { StateTag, type Activity } from './Activities';
import { fmtTime } from './Audiences';

interface PrizeStat {
  pool_id: string;
  prize_id: string;
  name: string;
  kind: string;
  awarded: number;
  stock_left: number | null;
  daily_stock_left: number | null;
}
export interface Stats {
  participants: number;
  draws: number;
  wins: number;
  budget_fen: number;
  budget_spent_fen: number;
  prizes: PrizeStat[];
  draws_per_channel: Record<string, number>;
  // Lottery templates: by local day of the activity (Asia/Shanghai by default).
  tz_offset_minutes?: number;
  today?: DayStats;
  daily?: DayStats[];
}

export interface DayStats {
  date: string;
  draws: number;
  wins: number;
  cost_fen: number;
}

export default function ActivityDetail() {
  const { t } = useTranslation();
  const { id } = useParams();
  const nav = useNavigate();
  const { message } = App.useApp();
  const { can } = useAuth();
  const [activity, setActivity] = useState<Activity | null>(null);
  const [stats, setStats] = useState<Stats | null>(null);
  const [versions, setVersions] = useState<NonNullable<Activity['latest']>[]>([]);
  const [error, setError] = useState<string | null>(null);

  const load = useCallback(async () => {
    try {
      const a = await api.get('/v1/activities/{id}', { params: { id: id! } });
      setActivity(a as Activity);
      const v = await api.get('/v1/activities/{id}/versions', { params: { id: id! } });
      setVersions((v.versions ?? []) as NonNullable<Activity['latest']>[]);
      setError(null);
    } catch (e) {
      setError(String((e as Error).message));
    }
  }, [id]);
  const loadStats = useCallback(async () => {
    try {
      setStats(await request<Stats>('GET', `/v1/activities/${id}/stats`));
    } catch {
      setStats(null);
    }
  }, [id]);

  useEffect(() => {
    void load();
    void loadStats();
    const h = setInterval(() => void loadStats(), 5000);
    return () => clearInterval(h);
  }, [load, loadStats]);

  const act = async (action: 'submit' | 'pause' | 'resume' | 'end' | 'clone') => {
    try {
      const r = await request<{ id: number }>('POST', `/v1/activities/${id}/${action}`, {});
      message.success(t(`activity.done.${action}`));
      if (action === 'clone') nav(`/activities/${r.id}`);
      else void load();
    } catch (e) {
      message.error(e instanceof ApiError ? e.message : String(e));
    }
  };

  if (error) return <Alert type="error" message={error} />;
  if (!activity) return null;
  const terms = (activity.terms ?? activity.latest?.terms) as Terms | undefined;
  const latest = activity.latest;
  const state = activity.state;
  const editable = can('activities:write');
  const budget = stats?.budget_fen ?? terms?.budget_fen ?? 0;

  return (
    <Space direction="vertical" style={{ width: '100%' }} size="middle">
      <Space style={{ justifyContent: 'space-between', width: '100%' }} wrap>
        <Space>
          <Typography.Title level={4} style={{ margin: 0 }} data-testid="activity-title">
            {activity.name}
          </Typography.Title>
          <StateTag state={state} />
          <Tag>{t(`template.${terms?.display?.template}`)}</Tag>
          <Tag>v{latest?.version} · {t(`versionStatus.${latest?.status}`)}</Tag>
        </Space>
        {editable && (
          <Space wrap>
            {(latest?.status === 'draft' || latest?.status === 'rejected') && (
              <>
                <Button onClick={() => nav(`/activities/${id}/edit`)}>{t('activity.edit')}</Button>
                <Button type="primary" onClick={() => void act('submit')} data-testid="activity-submit">
                  {t('activity.submit')}
                </Button>
              </>
            )}
            {(state === 'live' || state === 'scheduled') && latest?.status === 'approved' && (
              <Button onClick={() => nav(`/activities/${id}/edit`)}>{t('activity.newVersion')}</Button>
            )}
            {(state === 'live' || state === 'scheduled') && <Button onClick={() => void act('pause')}>{t('activity.pause')}</Button>}
            {state === 'paused' && <Button onClick={() => void act('resume')}>{t('activity.resume')}</Button>}
            {(state === 'live' || state === 'paused' || state === 'scheduled') && (
              <Popconfirm title={t('activity.endConfirm')} onConfirm={() => void act('end')}>
                <Button danger>{t('activity.end')}</Button>
              </Popconfirm>
            )}
            <Button onClick={() => void act('clone')}>{t('activity.clone')}</Button>
          </Space>
        )}
      </Space>
      <Tabs
        items={[
          {
            key: 'stats',
            label: t('activity.stats'),
            children: stats ? <StatsView stats={stats} budget={budget} /> : <Typography.Text type="secondary">{t('activity.noStats')}</Typography.Text>,
          },
          { key: 'terms', label: t('activity.terms'), children: terms ? <TermsView terms={terms} /> : null },
          {
            key: 'versions',
            label: t('activity.versions'),
            children: (
              <Table
                rowKey="version"
                size="small"
                pagination={false}
                dataSource={versions}
                columns={[
                  { title: t('activity.version'), dataIndex: 'version' },
                  { title: t('activity.state'), dataIndex: 'status', render: (s) => t(`versionStatus.${s}`) },
                  { title: t('common.createdBy'), dataIndex: 'created_by' },
                  { title: t('common.createdAt'), dataIndex: 'created_at', render: (v) => fmtTime(v) },
                  { title: t('approval.id'), dataIndex: 'approval_id' },
                  { title: t('approval.decidedBy'), dataIndex: 'decided_by' },
                  { title: t('approval.decidedAt'), dataIndex: 'decided_at', render: (v) => fmtTime(v) },
                  { title: 'SHA-256', dataIndex: 'digest', render: (v: string) => <code>{v?.slice(0, 12)}</code> },
                ]}
              />
            ),
          },
        ]}
      />
    </Space>
  );
}

function StatsView({ stats, budget }: { stats: Stats; budget: number }) {
  const { t } = useTranslation();
  // Sign-in and quiz activities have no prizes in the draw engine's statistics.
  const prizeStats = stats.prizes ?? [];
  const channels = Object.entries(stats.draws_per_channel ?? {});
  return (
    <Space direction="vertical" style={{ width: '100%' }}>
      <Row gutter={16}>
        <Col span={6}>
          <Card size="small">
            <Statistic title={t('activity.participants')} value={stats.participants} valueRender={(n) => <span data-testid="stat-participants">{n}</span>} />
          </Card>
        </Col>
        <Col span={6}>
          <Card size="small">
            <Statistic title={t('activity.draws')} value={stats.draws} valueRender={(n) => <span data-testid="stat-draws">{n}</span>} />
          </Card>
        </Col>
        <Col span={6}>
          <Card size="small">
            <Statistic title={t('activity.wins')} value={stats.wins} valueRender={(n) => <span data-testid="stat-wins">{n}</span>} />
          </Card>
        </Col>
        <Col span={6}>
          <Card size="small">
            <Statistic title={t('activity.budgetSpent')} prefix="¥" value={formatYuan(stats.budget_spent_fen)} />
            {budget > 0 && <Progress percent={Math.min(100, Math.round((stats.budget_spent_fen / budget) * 1000) / 10)} size="small" />}
            {budget > 0 && <Typography.Text type="secondary">/ ¥{formatYuan(budget)}</Typography.Text>}
          </Card>
        </Col>
      </Row>
      <Row gutter={16}>
        <Col span={14}>
          <Card size="small" title={t('activity.awardedByPrize')}>
            <ReactECharts
              style={{ height: 300 }}
              notMerge
              option={{
                tooltip: { trigger: 'axis' },
                legend: { top: 0 },
                grid: { left: 50, right: 20, top: 30, bottom: 40 },
                xAxis: { type: 'category', data: prizeStats.map((p) => `${p.pool_id}/${p.name}`) },
                yAxis: { type: 'value' },
                series: [
                  { name: t('activity.awarded'), type: 'bar', stack: 's', data: prizeStats.map((p) => p.awarded), itemStyle: { color: '#c8102e' } },
                  { name: t('activity.stockLeft'), type: 'bar', stack: 's', data: prizeStats.map((p) => p.stock_left ?? 0), itemStyle: { color: '#d9d9d9' } },
                ],
              }}
            />
          </Card>
        </Col>
        <Col span={10}>
          <Card size="small" title={t('activity.byChannel')}>
            <ReactECharts
              style={{ height: 300 }}
              notMerge
              option={{
                tooltip: { trigger: 'item' },
                legend: { bottom: 0 },
                series: [{ type: 'pie', radius: ['35%', '65%'], data: channels.map(([c, n]) => ({ name: t(`channel.${c}`), value: n })) }],
              }}
            />
          </Card>
        </Col>
      </Row>
      <Table<PrizeStat>
        rowKey={(p) => `${p.pool_id}/${p.prize_id}`}
        size="small"
        pagination={false}
        dataSource={prizeStats}
        data-testid="prize-stats"
        columns={[
          { title: t('wizard.pool'), dataIndex: 'pool_id' },
          { title: 'ID', dataIndex: 'prize_id' },
          { title: t('prize.name'), dataIndex: 'name' },
          { title: t('prize.kind'), dataIndex: 'kind', render: (k) => t(`prizeKind.${k}`) },
          { title: t('activity.awarded'), dataIndex: 'awarded', align: 'right', render: (n, p) => <span data-testid={`awarded-${p.pool_id}-${p.prize_id}`}>{n}</span> },
          { title: t('activity.stockLeft'), dataIndex: 'stock_left', align: 'right', render: (n) => (n === null ? '∞' : n) },
          { title: t('activity.dailyLeft'), dataIndex: 'daily_stock_left', align: 'right', render: (n) => (n === null ? '—' : n) },
        ]}
      />
    </Space>
  );
}

export function TermsView({ terms }: { terms: Terms }) {
  const { t } = useTranslation();
  const e = terms.eligibility;
  return (
    <Space direction="vertical" style={{ width: '100%' }}>
      <Descriptions bordered size="small" column={2}>
        <Descriptions.Item label={t('wizard.displayTitle')}>{terms.display.title}</Descriptions.Item>
        <Descriptions.Item label={t('wizard.template')}>{t(`template.${terms.display.template}`)}</Descriptions.Item>
        <Descriptions.Item label={t('wizard.who')}>
          {e.audience_id ? `${t('wizard.audience')} #${e.audience_id}` : e.rule ? <code>{e.rule}</code> : t('wizard.everyone')}
        </Descriptions.Item>
        <Descriptions.Item label={t('wizard.channels')}>{(e.channels ?? []).map((c) => t(`channel.${c}`)).join(', ') || t('wizard.anyChannel')}</Descriptions.Item>
        <Descriptions.Item label={t('wizard.start')}>{fmtTime(e.start)}</Descriptions.Item>
        <Descriptions.Item label={t('wizard.end')}>{fmtTime(e.end)}</Descriptions.Item>
        <Descriptions.Item label={t('wizard.freePerDay')}>{terms.chances?.free_per_day ?? 1}</Descriptions.Item>
        <Descriptions.Item label={t('wizard.pointsCost')}>{terms.chances?.points_cost ?? 0}</Descriptions.Item>
        <Descriptions.Item label={t('wizard.budget')}>{terms.budget_fen ? `¥${formatYuan(terms.budget_fen)}` : t('wizard.noBudget')}</Descriptions.Item>
        <Descriptions.Item label={t('wizard.whiteList')}>{(e.white_list ?? []).length}</Descriptions.Item>
      </Descriptions>
      {(terms.pools ?? []).map((p) => {
        const total = p.pool.prizes.reduce((s, x) => s + x.weight, 0);
        const g = p.group;
        return (
          <Card key={p.pool.id} size="small" title={`${p.pool.name || p.pool.id} (${p.pool.id})`} extra={g === 'default' ? t('wizard.groupDefault') : 'rule' in g ? <code>{g.rule}</code> : `${t('wizard.audience')} #${g.audience_id}`}>
            <Table<Prize>
              rowKey="id"
              size="small"
              pagination={false}
              dataSource={p.pool.prizes}
              columns={[
                { title: 'ID', dataIndex: 'id' },
                { title: t('prize.name'), dataIndex: 'name' },
                { title: t('prize.kind'), dataIndex: 'kind', render: (k) => t(`prizeKind.${k}`) },
                { title: t('prize.weight'), dataIndex: 'weight' },
                { title: t('prize.odds'), render: (_, x) => `${((x.weight / total) * 100).toFixed(2)}%` },
                { title: t('prize.stock'), dataIndex: 'total_stock', render: (n) => (n < 0 ? '∞' : n) },
                { title: t('prize.cost'), dataIndex: 'cost_fen', render: (n) => `¥${formatYuan(n ?? 0)}` },
                { title: t('prize.ref'), dataIndex: 'reward_ref' },
              ]}
            />
          </Card>
        );
      })}
    </Space>
  );
}
