// Outreach campaigns: the list (cursor pages, by status), a builder (audience, channel plan in
// fallback order with templates and unit costs, send window, throttle, holdout, goal), and the
// report: delivery funnel, suppressions by reason, per-channel cost / conversions / ROI and
// treated versus holdout conversion with the uplift's 95% interval.
import { DeleteOutlined, PlusOutlined } from '@ant-design/icons';
import type { FormInstance } from 'antd';
import { Alert, App, Button, Card, Checkbox, Col, DatePicker, Descriptions, Form, Input, InputNumber, Popconfirm, Radio, Row, Segmented, Select, Space, Statistic, Table, Tag, TimePicker, Typography } from 'antd';
import dayjs from 'dayjs';
import ReactECharts from 'echarts-for-react';
import { useCallback, useEffect, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useNavigate, useParams } from 'react-router-dom';
import { api, request, type Schemas } from '../api/client';
import { ApiError } from '../api/problem';
import { formatYuan } from '../activity/cost';
import { parseVariables, previewPlan, type PlanPreview } from '../campaign/preview';
import { buildRecurrence, formatRun, nextRuns, zoneOffsetMinutes, type RecurrenceFields } from '../campaign/recurrence';
import { RecurrenceSummary, useBankZone } from '../campaign/RecurrenceSummary';
import { RunsTable } from '../campaign/RunsTable';
import { recurrenceOf, staleFields, statusColor, type RunReport } from '../campaign/series';
import { useAuth } from '../auth';
import { CursorTable } from '../components/CursorTable';
import { TestId } from '../components/TestId';
import { useProblemForm } from '../components/useProblemForm';
import { fmtTime } from './Audiences';

type Campaign = Schemas['Campaign'];
type Template = Schemas['MessageTemplate'];

const CHANNELS = ['sms', 'app_push', 'in_app', 'wechat_oa', 'wecom', 'email'];

export function CampaignList() {
  const { t } = useTranslation();
  const { can } = useAuth();
  const zone = useBankZone();
  const nav = useNavigate();
  const [status, setStatus] = useState('all');
  const load = useCallback(
    async (cursor: string | undefined, limit: number) => {
      const r = await api.get('/v1/campaigns', { query: { cursor, limit, status: status === 'all' ? undefined : status } });
      return { items: (r.campaigns ?? []) as Campaign[], next: r.next_cursor ?? null };
    },
    [status],
  );
  return (
    <Space direction="vertical" style={{ width: '100%' }}>
      <Space style={{ justifyContent: 'space-between', width: '100%' }}>
        <Typography.Title level={4} style={{ margin: 0 }}>
          {t('menu.campaigns')}
        </Typography.Title>
        {can('campaigns:write') && (
          <Button type="primary" icon={<PlusOutlined />} onClick={() => nav('/campaigns/new')}>
            {t('campaign.new')}
          </Button>
        )}
      </Space>
      <Segmented value={status} onChange={(v) => setStatus(String(v))} options={['all', ...Object.keys(statusColor)].map((s) => ({ value: s, label: s === 'all' ? t('common.all') : t(`campaign.status.${s}`) }))} />
      <CursorTable<Campaign>
        rowKey="id"
        load={load}
        deps={[status]}
        columns={[
          { title: 'ID', dataIndex: 'id', width: 70 },
          { title: t('wizard.name'), dataIndex: 'name', render: (v, r) => <Link to={`/campaigns/${r.id}`}>{v}</Link> },
          { title: t('activity.state'), dataIndex: 'status', render: (s) => <Tag color={statusColor[s]}>{t(`campaign.status.${s}`)}</Tag> },
          {
            title: t('recur.schedule'),
            key: 'schedule',
            render: (_, r) => {
              const rec = recurrenceOf(r);
              return rec ? <RecurrenceSummary recurrence={rec} nextRunAt={r.next_run_at} zone={zone} /> : t('recur.once');
            },
          },
          { title: t('campaign.startAt'), dataIndex: 'start_at', render: (v) => fmtTime(v) },
          { title: t('campaign.finishedAt'), dataIndex: 'finished_at', render: (v) => fmtTime(v) },
          { title: t('common.createdBy'), dataIndex: 'created_by' },
        ]}
      />
    </Space>
  );
}

export interface Report {
  campaign: Campaign;
  progress: { treated: number; done: number; pending: number; percent: number };
  audience: number;
  treated: number;
  holdout: number;
  sent: number;
  delivered: number;
  failed: number;
  suppressed: number;
  suppressed_by_reason: Record<string, number>;
  fallbacks: Record<string, number>;
  cost_fen: number;
  channels: { channel: string; sent: number; delivered: number; cost_fen: number; converted: number; conversion_value_fen: number; roi: number | null }[];
  conversions: { treated_converted: number; holdout_converted: number; treated_rate: number; holdout_rate: number; uplift: number; uplift_ci95: [number, number]; conversion_value_fen: number; attributed_elsewhere?: number } | null;
  runs?: RunReport[]; // a recurring campaign's runs
}

export function CampaignReport() {
  const { t } = useTranslation();
  const { id } = useParams();
  const { can } = useAuth();
  const zone = useBankZone();
  const { message } = App.useApp();
  const [report, setReport] = useState<Report | null>(null);
  const [definition, setDefinition] = useState<unknown>(null);
  const [error, setError] = useState<string | null>(null);
  const load = useCallback(async () => {
    try {
      setReport(await request<Report>('GET', `/v1/campaigns/${id}/report`));
      setDefinition((await request<Campaign>('GET', `/v1/campaigns/${id}`)).definition ?? null);
      setError(null);
    } catch (e) {
      setError(e instanceof ApiError ? e.message : String(e));
    }
  }, [id]);
  useEffect(() => {
    void load();
    const h = setInterval(() => void load(), 5000);
    return () => clearInterval(h);
  }, [load]);
  const act = async (action: 'submit' | 'pause' | 'resume' | 'cancel') => {
    try {
      await request('POST', `/v1/campaigns/${id}/${action}`, {});
      void load();
    } catch (e) {
      message.error(e instanceof ApiError ? e.message : String(e));
    }
  };
  if (error) return <Alert type="error" message={error} />;
  if (!report) return null;
  const c = report.campaign;
  const pct = (x?: number) => (x === undefined || x === null ? '—' : `${(x * 100).toFixed(2)}%`);
  const reasons = Object.entries(report.suppressed_by_reason ?? {});
  const w = can('campaigns:write');
  const rec = recurrenceOf({ definition: (definition ?? c.definition) as Campaign['definition'] });
  return (
    <Space direction="vertical" style={{ width: '100%' }} size="middle">
      <Space style={{ justifyContent: 'space-between', width: '100%' }}>
        <Space>
          <Typography.Title level={4} style={{ margin: 0 }}>
            {c.name}
          </Typography.Title>
          <Tag color={statusColor[c.status ?? '']}>{t(`campaign.status.${c.status}`)}</Tag>
          {rec && <RecurrenceSummary recurrence={rec} nextRunAt={c.next_run_at} zone={zone} />}
          {rec && (report.runs ?? []).length > 0 && <a href="#campaign-runs">{t('recur.viewRuns')}</a>}
          {c.parent_id && (
            <Typography.Text data-testid="run-of">
              {t('recur.runOf', { n: c.run_no })} · <Link to={`/campaigns/${c.parent_id}`}>{t('recur.series')} #{c.parent_id}</Link>
            </Typography.Text>
          )}
        </Space>
        {w && (
          <Space>
            {c.status === 'draft' && <Button type="primary" data-testid="campaign-submit" onClick={() => void act('submit')}>{t('activity.submit')}</Button>}
            {c.status === 'running' && <Button onClick={() => void act('pause')}>{t('activity.pause')}</Button>}
            {c.status === 'paused' && <Button onClick={() => void act('resume')}>{t('activity.resume')}</Button>}
            {['draft', 'scheduled', 'running', 'paused'].includes(c.status ?? '') && (
              <Popconfirm title={t('campaign.cancelConfirm')} onConfirm={() => void act('cancel')}>
                <Button danger>{t('campaign.cancel')}</Button>
              </Popconfirm>
            )}
          </Space>
        )}
      </Space>
      <Row gutter={16}>
        {(
          [
            ['campaign.audience', report.audience],
            ['campaign.treated', report.treated],
            ['campaign.holdout', report.holdout],
            ['campaign.sent', report.sent],
            ['campaign.delivered', report.delivered],
            ['campaign.suppressed', report.suppressed],
          ] as const
        ).map(([k, v]) => (
          <Col key={k} flex={1}>
            <Card size="small" data-testid={`report-${k.split('.')[1]}`}>
              <Statistic title={t(k)} value={v ?? 0} />
            </Card>
          </Col>
        ))}
        <Col flex={1}>
          <Card size="small">
            <Statistic title={t('campaign.cost')} prefix="¥" value={formatYuan(report.cost_fen ?? 0)} />
          </Card>
        </Col>
      </Row>
      <Row gutter={16}>
        <Col span={12}>
          <Card size="small" title={t('campaign.funnel')}>
            <ReactECharts
              style={{ height: 300 }}
              notMerge
              option={{
                tooltip: { trigger: 'item' },
                series: [
                  {
                    type: 'funnel',
                    sort: 'none',
                    left: '10%',
                    width: '80%',
                    label: { formatter: '{b}: {c}' },
                    data: [
                      { name: t('campaign.treated'), value: report.treated },
                      { name: t('campaign.sent'), value: report.sent },
                      { name: t('campaign.delivered'), value: report.delivered },
                      { name: t('campaign.converted'), value: report.conversions?.treated_converted ?? 0 },
                    ],
                  },
                ],
              }}
            />
          </Card>
        </Col>
        <Col span={12}>
          <Card size="small" title={t('campaign.suppressedByReason')}>
            <ReactECharts
              style={{ height: 300 }}
              notMerge
              option={{ tooltip: { trigger: 'item' }, legend: { bottom: 0 }, series: [{ type: 'pie', radius: ['35%', '65%'], data: reasons.map(([r, n]) => ({ name: t(`workbench.reason.${r}`, { defaultValue: r }), value: n })) }] }}
            />
          </Card>
        </Col>
      </Row>
      <Card size="small" title={t('campaign.byChannel')}>
        <Row gutter={16}>
          <Col span={12}>
            <ReactECharts
              style={{ height: 260 }}
              notMerge
              option={{
                tooltip: { trigger: 'axis' },
                legend: { top: 0 },
                xAxis: { type: 'category', data: report.channels.map((x) => t(`campaign.channels.${x.channel}`, { defaultValue: x.channel })) },
                yAxis: [{ type: 'value' }, { type: 'value', name: 'ROI' }],
                series: [
                  { name: t('campaign.sent'), type: 'bar', data: report.channels.map((x) => x.sent) },
                  { name: t('campaign.converted'), type: 'bar', data: report.channels.map((x) => x.converted) },
                  { name: 'ROI', type: 'line', yAxisIndex: 1, data: report.channels.map((x) => x.roi) },
                ],
              }}
            />
          </Col>
          <Col span={12}>
            <Table
              size="small"
              rowKey="channel"
              pagination={false}
              dataSource={report.channels}
              columns={[
                { title: t('campaign.channel'), dataIndex: 'channel', render: (c: string) => t(`campaign.channels.${c}`, { defaultValue: c }) },
                { title: t('campaign.sent'), dataIndex: 'sent' },
                { title: t('campaign.delivered'), dataIndex: 'delivered' },
                { title: t('campaign.cost'), dataIndex: 'cost_fen', render: (v: number) => `¥${formatYuan(v)}` },
                { title: t('campaign.converted'), dataIndex: 'converted' },
                { title: t('campaign.value'), dataIndex: 'conversion_value_fen', render: (v: number) => `¥${formatYuan(v)}` },
                { title: 'ROI', dataIndex: 'roi', render: (v: number | null) => (v === null ? '—' : v.toFixed(2)) },
              ]}
            />
          </Col>
        </Row>
      </Card>
      {report.conversions && (
        <Card size="small" title={t('journey.conversion')}>
          <Descriptions size="small" column={3}>
            <Descriptions.Item label={t('campaign.treated')}>{`${report.conversions.treated_converted} / ${report.treated} (${pct(report.conversions.treated_rate)})`}</Descriptions.Item>
            <Descriptions.Item label={t('campaign.holdout')}>{`${report.conversions.holdout_converted} / ${report.holdout} (${pct(report.conversions.holdout_rate)})`}</Descriptions.Item>
            <Descriptions.Item label={t('journey.uplift')}>{`${pct(report.conversions.uplift)} [${pct(report.conversions.uplift_ci95?.[0])}, ${pct(report.conversions.uplift_ci95?.[1])}]`}</Descriptions.Item>
            <Descriptions.Item label={t('campaign.attributedElsewhere')}>{report.conversions.attributed_elsewhere ?? 0}</Descriptions.Item>
          </Descriptions>
        </Card>
      )}
      {rec && (
        <Card size="small" title={t('recur.runs')} id="campaign-runs" data-testid="campaign-runs">
          <RunsTable runs={report.runs} fmt={fmtTime} />
        </Card>
      )}
      <Card size="small" title={t('campaign.definition')}>
        <pre style={{ margin: 0, maxHeight: 360, overflow: 'auto' }}>{JSON.stringify(definition ?? c.definition, null, 2)}</pre>
      </Card>
    </Space>
  );
}

interface Values {
  name: string;
  purpose: string;
  scope: 'audience' | 'rule';
  audience: { audience_id?: number; rule?: string };
  channels: { channel: string; template_id?: number; cost_fen: number; throttle_per_second?: number }[];
  start_at?: string;
  send_window?: { start?: string; end?: string };
  throttle_per_second: number;
  holdout_percent: number;
  goal: { event?: string; within_days: number };
  variables_text?: string; // name=value, one a line
  link?: string;
  schedule: 'once' | 'recurring';
  recurrence: RecurrenceFields;
}

// The next five runs of the recurrence being built, in the bank's zone, from the later of the
// start time and now.
function NextRuns({ fields, startAt, zone, testId }: { fields?: RecurrenceFields; startAt?: string; zone: string; testId: string }) {
  const { t } = useTranslation();
  if (!fields) return null;
  const now = Date.now();
  const from = Math.max(now, startAt ? Date.parse(startAt) || now : now);
  const offset = zoneOffsetMinutes(zone, from);
  const runs = nextRuns(buildRecurrence(fields), from, offset, 5);
  return (
    <Card size="small" type="inner" title={t('recur.nextRuns', { zone })} data-testid={testId}>
      {runs.length === 0 ? (
        <Typography.Text type="secondary">{t('recur.noRuns')}</Typography.Text>
      ) : (
        <ol style={{ margin: 0, paddingLeft: 20 }}>
          {runs.map((r) => (
            <li key={r}>{formatRun(r, offset, t)}</li>
          ))}
        </ol>
      )}
    </Card>
  );
}

export function CampaignBuilder() {
  const { t } = useTranslation();
  const nav = useNavigate();
  const [form] = Form.useForm<Values>();
  const { banner, showProblem, clear } = useProblemForm(form);
  const [audiences, setAudiences] = useState<Schemas['Audience'][]>([]);
  const [templates, setTemplates] = useState<Template[]>([]);
  const [events, setEvents] = useState<string[]>([]);
  const scope = Form.useWatch('scope', form);
  const schedule = Form.useWatch('schedule', form);
  const every = Form.useWatch(['recurrence', 'every'], form);
  const recurrence = Form.useWatch('recurrence', form) as RecurrenceFields | undefined;
  const startAt = Form.useWatch('start_at', form) as string | undefined;
  const zone = useBankZone();
  const [preview, setPreview] = useState<PlanPreview | null>(null);
  const [previewing, setPreviewing] = useState(false);
  // The campaign's variables from their text field, or null after marking the field.
  const variablesOf = (v: Values): Record<string, string> | null => {
    try {
      return parseVariables(v.variables_text ?? '');
    } catch (e) {
      form.setFields([{ name: 'variables_text', errors: [e instanceof Error ? e.message : String(e)] }]);
      return null;
    }
  };
  const runPreview = async () => {
    const v = form.getFieldsValue(true) as Values;
    const vars = variablesOf(v);
    if (vars === null) return;
    const rule = v.scope === 'audience' ? (audiences.find((a) => a.id === v.audience?.audience_id)?.rule ?? null) : (v.audience?.rule ?? '');
    if (rule === null) {
      form.setFields([{ name: ['audience', 'audience_id'], errors: [t('form.required')] }]);
      return;
    }
    setPreviewing(true);
    try {
      setPreview(await previewPlan(request, rule, v.holdout_percent ?? 0, v.channels ?? [], vars, v.link || undefined));
    } catch (e) {
      showProblem(e);
    } finally {
      setPreviewing(false);
    }
  };
  useEffect(() => {
    void api.get('/v1/audiences', { query: { limit: 500 } }).then((r) => setAudiences((r.audiences ?? []) as Schemas['Audience'][]), () => {});
    void api.get('/v1/templates', { query: { status: 'approved', limit: 200 } }).then((r) => setTemplates(((r as { templates?: Template[] }).templates ?? []) as Template[]), () => {});
    void request<{ types?: { type?: string; name?: string }[] } | { type?: string }[]>('GET', '/v1/events/types').then(
      (r) => setEvents((Array.isArray(r) ? r : (r.types ?? [])).map((x) => String(x.type ?? (x as { name?: string }).name ?? '')).filter(Boolean)),
      () => {},
    );
  }, []);
  const save = async (v: Values) => {
    clear();
    const variables = variablesOf(v);
    if (variables === null) return;
    const body: Record<string, unknown> = {
      name: v.name,
      purpose: v.purpose,
      audience: v.scope === 'audience' ? { audience_id: v.audience.audience_id } : { rule: v.audience.rule ?? '' },
      channels: v.channels,
      throttle_per_second: v.throttle_per_second,
      holdout_percent: v.holdout_percent,
    };
    if (v.start_at) body.start_at = v.start_at;
    if (v.send_window?.start && v.send_window?.end) body.send_window = v.send_window;
    if (v.goal?.event) body.goal = v.goal;
    if (Object.keys(variables).length > 0) body.variables = variables;
    if (v.link) body.link = v.link;
    if (v.schedule === 'recurring') body.recurrence = buildRecurrence(v.recurrence ?? {});
    try {
      const c = await request<{ id: number }>('POST', '/v1/campaigns', body);
      nav(`/campaigns/${c.id}`);
    } catch (e) {
      showProblem(e);
    }
  };
  const hhmm = {
    getValueProps: (v?: string) => ({ value: v ? dayjs(`2000-01-01T${v}`) : null }),
    normalize: (d: dayjs.Dayjs | null) => (d ? d.format('HH:mm') : undefined),
  };
  return (
    <Space direction="vertical" style={{ width: '100%' }}>
      <Typography.Title level={4} style={{ margin: 0 }}>
        {t('campaign.new')}
      </Typography.Title>
      {banner.length > 0 && <Alert type="error" showIcon message={banner.join('; ')} />}
      <Card>
        <Form
          form={form}
          layout="vertical"
          onFinish={save}
          onValuesChange={(changed) => (form as FormInstance).setFields(staleFields(changed).map((name) => ({ name, errors: [] })))}
          initialValues={{ purpose: 'marketing', scope: 'audience', audience: { rule: '' }, channels: [{ channel: 'app_push', cost_fen: 0 }, { channel: 'sms', cost_fen: 5 }], throttle_per_second: 100, holdout_percent: 10, goal: { within_days: 7 }, schedule: 'once', recurrence: { every: 'week', at: '10:00', weekdays: [], month_days: [] } }}
        >
          <Row gutter={16}>
            <Col span={12}>
              <Form.Item name="name" label={t('wizard.name')} rules={[{ required: true, message: t('form.required') }]}>
                <Input />
              </Form.Item>
            </Col>
            <Col span={12}>
              <Form.Item name="purpose" label={t('campaign.purpose')}>
                <Radio.Group options={['marketing', 'service'].map((p) => ({ value: p, label: t(`campaign.purposes.${p}`) }))} />
              </Form.Item>
            </Col>
          </Row>
          <Form.Item name="scope" label={t('wizard.who')}>
            <Radio.Group data-testid="campaign-scope" options={[{ value: 'audience', label: t('wizard.audience') }, { value: 'rule', label: t('wizard.rule') }]} />
          </Form.Item>
          {scope === 'audience' ? (
            <Form.Item name={['audience', 'audience_id']} label={t('wizard.audience')} rules={[{ required: true, message: t('form.required') }]}>
              <Select options={audiences.map((a) => ({ value: a.id, label: a.name }))} />
            </Form.Item>
          ) : (
            <Form.Item name={['audience', 'rule']} label={t('wizard.rule')} rules={[{ required: true, message: t('form.required') }]}>
              <Input style={{ fontFamily: 'monospace' }} data-testid="campaign-rule" />
            </Form.Item>
          )}
          <Typography.Text strong>{t('campaign.plan')}</Typography.Text>
          <Form.List name="channels">
            {(fields, { add, remove }) => (
              <div>
                {fields.map((f, i) => (
                  <Space key={f.key} align="baseline" data-testid={`plan-step-${i}`}>
                    <span>{i + 1}.</span>
                    <Form.Item name={[f.name, 'channel']}>
                      <Select style={{ width: 150 }} options={CHANNELS.map((c) => ({ value: c, label: t(`campaign.channels.${c}`) }))} />
                    </Form.Item>
                    <Form.Item name={[f.name, 'template_id']} rules={[{ required: true, message: t('form.required') }]}>
                      <TestId id={`plan-${i}-template`}>
                        <Select style={{ width: 300 }} placeholder={t('workbench.template')} options={templates.map((x) => ({ value: x.id, label: `${x.name} · ${x.channel}` }))} />
                      </TestId>
                    </Form.Item>
                    <Form.Item
                      name={[f.name, 'cost_fen']}
                      getValueProps={(v: number) => ({ value: v === undefined ? v : v / 100 })}
                      normalize={(v: number | null) => (v === null ? 0 : Math.round(v * 100))}
                    >
                      <InputNumber min={0} precision={2} addonBefore="¥" addonAfter={t('campaign.perMessage')} style={{ width: 200 }} />
                    </Form.Item>
                    <Form.Item name={[f.name, 'throttle_per_second']} tooltip={t('campaign.channelThrottleHelp')}>
                      <InputNumber min={0} max={1000000} placeholder={t('campaign.channelThrottle')} addonAfter={t('campaign.perSecond')} style={{ width: 190 }} />
                    </Form.Item>
                    <Button icon={<DeleteOutlined />} onClick={() => remove(f.name)} data-testid={`plan-${i}-remove`} />
                  </Space>
                ))}
                <Button size="small" icon={<PlusOutlined />} onClick={() => add({ channel: 'sms', cost_fen: 0 })} disabled={fields.length >= 4}>
                  {t('campaign.addChannel')}
                </Button>
              </div>
            )}
          </Form.List>
          <Row gutter={16} style={{ marginTop: 16 }}>
            <Col span={8}>
              <Form.Item
                name="start_at"
                label={t('campaign.startAt')}
                getValueProps={(v?: string) => ({ value: v ? dayjs(v) : null })}
                normalize={(d: dayjs.Dayjs | null) => (d ? d.format('YYYY-MM-DDTHH:mm:ssZ') : undefined)}
              >
                <DatePicker showTime style={{ width: '100%' }} />
              </Form.Item>
            </Col>
            <Col span={4}>
              <Form.Item name={['send_window', 'start']} label={t('campaign.windowStart')} {...hhmm}>
                <TimePicker format="HH:mm" />
              </Form.Item>
            </Col>
            <Col span={4}>
              <Form.Item name={['send_window', 'end']} label={t('campaign.windowEnd')} {...hhmm}>
                <TimePicker format="HH:mm" />
              </Form.Item>
            </Col>
            <Col span={4}>
              <Form.Item name="throttle_per_second" label={t('campaign.throttle')}>
                <InputNumber min={1} max={1000000} style={{ width: '100%' }} />
              </Form.Item>
            </Col>
            <Col span={4}>
              <Form.Item name="holdout_percent" label={t('campaign.holdoutPercent')}>
                <InputNumber min={0} max={50} addonAfter="%" style={{ width: '100%' }} />
              </Form.Item>
            </Col>
          </Row>
          <Form.Item name="schedule" label={t('recur.schedule')}>
            <Radio.Group data-testid="campaign-schedule" options={[{ value: 'once', label: t('recur.once') }, { value: 'recurring', label: t('recur.recurring') }]} />
          </Form.Item>
          {schedule === 'recurring' && (
            <Row gutter={16} data-testid="campaign-recurrence">
              <Col span={14}>
                <Row gutter={16}>
                  <Col span={8}>
                    <Form.Item name={['recurrence', 'every']} label={t('recur.every')}>
                      <Radio.Group
                        optionType="button"
                        data-testid="recur-every"
                        options={(['day', 'week', 'month'] as const).map((e) => ({ value: e, label: t(`recur.everyOpts.${e}`) }))}
                      />
                    </Form.Item>
                  </Col>
                  <Col span={6}>
                    <Form.Item name={['recurrence', 'at']} label={t('recur.at')} rules={[{ required: true, message: t('form.required') }]} {...hhmm}>
                      <TimePicker format="HH:mm" data-testid="recur-at" />
                    </Form.Item>
                  </Col>
                  <Col span={10}>
                    {every === 'week' && (
                      <Form.Item name={['recurrence', 'weekdays']} label={t('recur.weekdays')}>
                        <Checkbox.Group data-testid="recur-weekdays" options={[1, 2, 3, 4, 5, 6, 7].map((d) => ({ value: d, label: t(`recur.wd.${d}`) }))} />
                      </Form.Item>
                    )}
                    {every === 'month' && (
                      <Form.Item name={['recurrence', 'month_days']} label={t('recur.monthDays')} tooltip={t('recur.monthDaysHelp')}>
                        <Select mode="multiple" data-testid="recur-month-days" options={Array.from({ length: 31 }, (_, i) => ({ value: i + 1, label: String(i + 1) }))} />
                      </Form.Item>
                    )}
                  </Col>
                </Row>
                <Row gutter={16}>
                  <Col span={8}>
                    <Form.Item
                      name={['recurrence', 'until']}
                      label={t('recur.until')}
                      getValueProps={(v?: string) => ({ value: v ? dayjs(v) : null })}
                      normalize={(d: dayjs.Dayjs | null) => (d ? d.format('YYYY-MM-DD') : undefined)}
                    >
                      <DatePicker style={{ width: '100%' }} data-testid="recur-until" />
                    </Form.Item>
                  </Col>
                  <Col span={6}>
                    <Form.Item name={['recurrence', 'max_runs']} label={t('recur.maxRuns')}>
                      <InputNumber min={1} max={1000} style={{ width: '100%' }} data-testid="recur-max-runs" />
                    </Form.Item>
                  </Col>
                  <Col span={10}>
                    <Typography.Text type="secondary">{t('recur.firstFrom')}</Typography.Text>
                  </Col>
                </Row>
              </Col>
              <Col span={10}>
                <NextRuns fields={recurrence} startAt={startAt} zone={zone} testId="recur-next-runs" />
              </Col>
            </Row>
          )}
          <Row gutter={16}>
            <Col span={8}>
              <Form.Item name={['goal', 'event']} label={t('campaign.goal')}>
                <Select allowClear options={events.map((e) => ({ value: e, label: t(`event.${e}`, { defaultValue: e }) }))} />
              </Form.Item>
            </Col>
            <Col span={4}>
              <Form.Item name={['goal', 'within_days']} label={t('campaign.withinDays')}>
                <InputNumber min={1} max={90} style={{ width: '100%' }} />
              </Form.Item>
            </Col>
          </Row>
          <Row gutter={16}>
            <Col span={12}>
              <Form.Item name="variables_text" label={t('campaign.variables')} tooltip={t('campaign.variablesHelp')}>
                <Input.TextArea rows={3} placeholder="product=稳盈90天" data-testid="campaign-variables" />
              </Form.Item>
            </Col>
            <Col span={12}>
              <Form.Item name="link" label={t('campaign.link')} tooltip={t('campaign.linkHelp')}>
                <Input placeholder="https://m.bank.example/wm90" />
              </Form.Item>
            </Col>
          </Row>
          <Space>
            <Button type="primary" htmlType="submit" data-testid="campaign-save">
              {t('wizard.saveDraft')}
            </Button>
            <Button loading={previewing} onClick={() => void runPreview()} data-testid="campaign-preview">
              {t('campaign.preview')}
            </Button>
          </Space>
        </Form>
      </Card>
      {preview && (
        <Card size="small" title={t('campaign.preview')} data-testid="campaign-preview-card">
          <Descriptions size="small" column={3}>
            <Descriptions.Item label={t('campaign.audience')}>
              <span data-testid="preview-members">{preview.members}</span>
            </Descriptions.Item>
            <Descriptions.Item label={t('campaign.treated')}>
              <span data-testid="preview-treated">{preview.treated}</span>
            </Descriptions.Item>
            <Descriptions.Item label={t('campaign.sample')}>
              <span data-testid="preview-sample">{preview.sample ?? '—'}</span>
            </Descriptions.Item>
          </Descriptions>
          {schedule === 'recurring' && (
            <div style={{ marginTop: 8 }}>
              <NextRuns fields={recurrence} startAt={startAt} zone={zone} testId="preview-next-runs" />
            </div>
          )}
          {preview.steps.map((s, i) => (
            <Card key={i} size="small" type="inner" style={{ marginTop: 8 }} title={`${i + 1}. ${t(`campaign.channels.${s.channel}`, { defaultValue: s.channel })}`}>
              {s.error ? (
                <Alert type="warning" showIcon message={s.error === 'template_id' ? t('workbench.template') + ': ' + t('form.required') : s.error} />
              ) : (
                <>
                  <Typography.Paragraph style={{ whiteSpace: 'pre-wrap', marginBottom: 4 }} data-testid={`preview-body-${i}`}>
                    {s.body ?? '—'}
                  </Typography.Paragraph>
                  {s.channel === 'sms' && s.segments !== undefined && (
                    <Typography.Text type="secondary">{t('campaign.segments', { length: s.length, segments: s.segments })}</Typography.Text>
                  )}
                </>
              )}
            </Card>
          ))}
        </Card>
      )}
    </Space>
  );
}
