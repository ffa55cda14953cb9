// Journeys: the list (cursor pages) and a report per journey: the funnel from entry through
// its steps to completion and conversion, treated versus holdout conversion with the uplift,
// and each step's action outcomes and entries (in the step, retrying, stuck); the stuck entries
// to retry or exit; lifecycle actions for those who may change journeys.
import { PlusOutlined } from '@ant-design/icons';
import { Alert, App, Button, Card, Col, Descriptions, Popconfirm, Row, Space, Statistic, Tag, Typography } from 'antd';
import ReactECharts from 'echarts-for-react';
import { useCallback, useEffect, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useNavigate, useParams } from 'react-router-dom';
import { api, request, type Schemas } from '../api/client';
import { ApiError } from '../api/problem';
import { useAuth } from '../auth';
import { CursorTable } from '../components/CursorTable';
import { StepCounts, StuckEntries, stepRows } from '../journey/StuckEntries';
import { fmtTime } from './Audiences';
import { SavedJourneyPreview } from './JourneyBuilder';

type Journey = Schemas['Journey'];
type JourneyStats = Schemas['JourneyStats'];

const journeyColor: Record<string, string> = { draft: 'default', live: 'green', paused: 'orange', ended: 'default' };

export function JourneyList() {
  const { t } = useTranslation();
  const { can } = useAuth();
  const nav = useNavigate();
  const load = useCallback(async (cursor: string | undefined, limit: number) => {
    const r = await api.get('/v1/journeys', { query: { cursor, limit } });
    return { items: ((r as { journeys?: Journey[] }).journeys ?? []) as Journey[], next: (r as { next_cursor?: string | null }).next_cursor ?? null };
  }, []);
  return (
    <Space direction="vertical" style={{ width: '100%' }}>
      <Space style={{ justifyContent: 'space-between', width: '100%' }}>
        <Typography.Title level={4} style={{ margin: 0 }}>
          {t('menu.journeys')}
        </Typography.Title>
        {can('journeys:write') && (
          <Button type="primary" icon={<PlusOutlined />} onClick={() => nav('/journeys/new')} data-testid="journey-new">
            {t('jb.new')}
          </Button>
        )}
      </Space>
      <CursorTable<Journey>
        rowKey="id"
        load={load}
        columns={[
          { title: 'ID', dataIndex: 'id', width: 70 },
          { title: t('wizard.name'), dataIndex: 'name', render: (v, r) => <Link to={`/journeys/${r.id}`}>{v}</Link> },
          { title: t('activity.state'), dataIndex: 'state', render: (s) => <Tag color={journeyColor[s]}>{t(`journeyState.${s}`)}</Tag> },
          { title: t('activity.version'), render: (_, r) => r.latest?.version },
          { title: t('journey.trigger'), render: (_, r) => t(`journey.triggers.${r.definition?.trigger?.type}`, { defaultValue: r.definition?.trigger?.type ?? '' }) },
          { title: t('common.createdBy'), dataIndex: 'created_by' },
          { title: t('common.updatedAt'), dataIndex: 'updated_at', render: (v) => fmtTime(v) },
        ]}
      />
    </Space>
  );
}

export function JourneyReport() {
  const { t } = useTranslation();
  const { id } = useParams();
  const { can } = useAuth();
  const { message } = App.useApp();
  const [journey, setJourney] = useState<Journey | null>(null);
  const [stats, setStats] = useState<JourneyStats | null>(null);
  const [error, setError] = useState<string | null>(null);

  const load = useCallback(async () => {
    try {
      setJourney((await api.get('/v1/journeys/{id}', { params: { id: id! } })) as Journey);
      setStats(await request<JourneyStats>('GET', `/v1/journeys/${id}/stats`).catch(() => null));
    } catch (e) {
      setError(String((e as Error).message));
    }
  }, [id]);
  useEffect(() => {
    void load();
  }, [load]);

  const act = async (action: 'submit' | 'pause' | 'resume' | 'end') => {
    try {
      await request('POST', `/v1/journeys/${id}/${action}`, {});
      void load();
    } catch (e) {
      message.error(e instanceof ApiError ? e.message : String(e));
    }
  };

  if (error) return <Alert type="error" message={error} />;
  if (!journey) return null;
  const steps = ((journey.definition as { steps?: { id: string; type: string }[] } | undefined)?.steps ?? []).map((s) => s.id);
  const inStep = stats?.in_step ?? {};
  const funnel = stats
    ? [
        { name: t('journey.entered'), value: stats.entered ?? 0 },
        ...steps.map((s) => ({ name: `${t('journey.step')} ${s}`, value: inStep[s] ?? 0 })),
        { name: t('journey.completed'), value: stats.completed ?? 0 },
        { name: t('journey.converted'), value: stats.converted ?? 0 },
      ]
    : [];
  const actions = (stats?.actions ?? {}) as Record<string, Record<string, number>>;
  const outcomes = [...new Set(Object.values(actions).flatMap((o) => Object.keys(o)))];
  const rate = (r?: number | null) => (r === null || r === undefined ? '—' : `${(r * 100).toFixed(2)}%`);
  const writable = can('journeys:write');
  const state = journey.state;
  return (
    <Space direction="vertical" style={{ width: '100%' }} size="middle">
      <Space style={{ justifyContent: 'space-between', width: '100%' }}>
        <Space>
          <Typography.Title level={4} style={{ margin: 0 }}>
            {journey.name}
          </Typography.Title>
          <Tag color={journeyColor[state ?? '']}>{t(`journeyState.${state}`)}</Tag>
          <Tag>v{journey.latest?.version}</Tag>
        </Space>
        {writable && (
          <Space>
            {(journey.latest?.status === 'draft' || journey.latest?.status === 'rejected') && <Button data-testid="journey-submit" onClick={() => void act('submit')}>{t('activity.submit')}</Button>}
            {state === 'live' && <Button onClick={() => void act('pause')}>{t('activity.pause')}</Button>}
            {state === 'paused' && <Button onClick={() => void act('resume')}>{t('activity.resume')}</Button>}
            {(state === 'live' || state === 'paused') && (
              <Popconfirm title={t('activity.endConfirm')} onConfirm={() => void act('end')}>
                <Button danger>{t('activity.end')}</Button>
              </Popconfirm>
            )}
          </Space>
        )}
      </Space>
      {stats && (
        <>
          <Row gutter={16}>
            {(['entered', 'active', 'completed', 'converted', 'exited', 'stuck'] as const).map((k) => (
              <Col key={k} flex={1}>
                <Card size="small">
                  <Statistic title={t(`journey.${k}`)} value={stats[k] ?? 0} />
                </Card>
              </Col>
            ))}
            <Col flex={1}>
              <Card size="small">
                <Statistic title={t('journey.uplift')} value={stats.uplift === null || stats.uplift === undefined ? '—' : `${(stats.uplift * 100).toFixed(2)} pp`} />
              </Card>
            </Col>
          </Row>
          <Row gutter={16}>
            <Col span={12}>
              <Card size="small" title={t('journey.funnel')}>
                <ReactECharts style={{ height: 320 }} notMerge option={{ tooltip: { trigger: 'item' }, series: [{ type: 'funnel', sort: 'none', left: '10%', width: '80%', label: { formatter: '{b}: {c}' }, data: funnel }] }} />
              </Card>
            </Col>
            <Col span={12}>
              <Card size="small" title={t('journey.conversion')}>
                <ReactECharts
                  style={{ height: 320 }}
                  notMerge
                  option={{
                    tooltip: { trigger: 'axis' },
                    xAxis: { type: 'category', data: [t('journey.treated'), t('journey.holdout')] },
                    yAxis: { type: 'value', axisLabel: { formatter: (v: number) => `${(v * 100).toFixed(1)}%` } },
                    series: [{ type: 'bar', data: [stats.treated?.conversion_rate ?? 0, stats.holdout?.conversion_rate ?? 0], itemStyle: { color: '#c8102e' } }],
                  }}
                />
                <Descriptions size="small" column={2}>
                  <Descriptions.Item label={t('journey.treated')}>{`${stats.treated?.converted ?? 0} / ${stats.treated?.entered ?? 0} (${rate(stats.treated?.conversion_rate)})`}</Descriptions.Item>
                  <Descriptions.Item label={t('journey.holdout')}>{`${stats.holdout?.converted ?? 0} / ${stats.holdout?.entered ?? 0} (${rate(stats.holdout?.conversion_rate)})`}</Descriptions.Item>
                </Descriptions>
              </Card>
            </Col>
          </Row>
          {steps.length > 0 && <StepCounts rows={stepRows(steps, stats)} />}
          {Object.keys(actions).length > 0 && (
            <Card size="small" title={t('journey.actions')}>
              <ReactECharts
                style={{ height: 280 }}
                notMerge
                option={{
                  tooltip: { trigger: 'axis' },
                  legend: { top: 0 },
                  xAxis: { type: 'category', data: Object.keys(actions) },
                  yAxis: { type: 'value' },
                  series: outcomes.map((o) => ({ name: o, type: 'bar', stack: 'a', data: Object.keys(actions).map((s) => actions[s][o] ?? 0) })),
                }}
              />
            </Card>
          )}
        </>
      )}
      {state !== 'draft' && <StuckEntries journeyId={id!} onChanged={() => void load()} />}
      {journey.definition && (journey.latest?.status === 'submitted' || (writable && (journey.latest?.status === 'draft' || journey.latest?.status === 'rejected'))) && (
        <SavedJourneyPreview definition={journey.definition as Record<string, unknown>} />
      )}
      <Card size="small" title={t('journey.definition')}>
        <pre style={{ margin: 0, maxHeight: 400, overflow: 'auto' }}>{JSON.stringify(journey.definition, null, 2)}</pre>
      </Card>
    </Space>
  );
}
