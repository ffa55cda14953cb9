// The customer manager's workbench: KPIs, the task inbox and the manager's customers (cursor
// pages), a customer 360 of one's own customer, one-click push of an approved template through
// the contact policy (sent or suppressed with the reason), and follow-up records that may
// close the task they answer.
import { Alert, App, Button, Card, Checkbox, Col, Descriptions, Drawer, Empty, Form, Input, Row, Segmented, Select, Space, Statistic, Table, Tabs, Tag, Timeline, Typography } from 'antd';
import { useCallback, useEffect, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { api, idempotencyKey, request, type Schemas } from '../api/client';
import { ApiError } from '../api/problem';
import { CursorTable } from '../components/CursorTable';
import { useProblemForm } from '../components/useProblemForm';
import { fmtTime } from './Audiences';

type Task = Schemas['WorkbenchTask'];
type Customer = Schemas['Customer'];
type Template = Schemas['MessageTemplate'];
type SendResult = Schemas['SendResult'];

interface View360 {
  customer: Customer;
  holdings: { aum?: string; level?: string; products?: string[]; risk_rating?: string; deposit_maturity?: string };
  activities: { activity_id?: number; name?: string; prize_name?: string; at?: string }[];
  rewards: { points_balance: number; coupons: { template_id?: number; name?: string; state?: string }[] };
  messages: { channel?: string; template_id?: number; outcome?: string; reason?: string; at?: string; created_at?: string }[];
  tasks: Task[];
  follow_ups: { channel: string; outcome: string; note?: string; next_step?: string; created_at?: string; by?: string }[];
  timeline: { seq: number; type: string; occurred_at: string; properties?: Record<string, unknown> }[] | null;
}

const priorityColor: Record<number, string> = { 1: 'red', 2: 'orange', 3: 'blue' };

function Kpis({ version }: { version: number }) {
  const { t } = useTranslation();
  const [k, setK] = useState<Record<string, number> | null>(null);
  useEffect(() => {
    void request<Record<string, number>>('GET', '/v1/workbench/kpis').then(setK, () => setK(null));
  }, [version]);
  if (!k) return null;
  return (
    <Row gutter={16}>
      {['tasks_due', 'tasks_done', 'tasks_done_on_time', 'follow_ups', 'customers_reached', 'customers_converted'].map((key) => (
        <Col key={key} flex={1}>
          <Card size="small">
            <Statistic title={t(`workbench.kpi.${key}`)} value={k[key] ?? 0} />
          </Card>
        </Col>
      ))}
    </Row>
  );
}

function PushCard({ externalId, onDone }: { externalId: string; onDone: () => void }) {
  const { t } = useTranslation();
  const [templates, setTemplates] = useState<Template[]>([]);
  const [form] = Form.useForm();
  const [result, setResult] = useState<SendResult | null>(null);
  const [busy, setBusy] = useState(false);
  const { banner, showProblem, clear } = useProblemForm(form);
  const templateId = Form.useWatch('template_id', form) as number | undefined;
  useEffect(() => {
    void api.get('/v1/templates', { query: { status: 'approved', limit: 200 } }).then(
      (r) => setTemplates(((r as { templates?: Template[] }).templates ?? []) as Template[]),
      () => setTemplates([]),
    );
  }, []);
  const tpl = templates.find((x) => x.id === templateId);
  const push = async (v: { template_id: number; variables?: Record<string, string> }) => {
    clear();
    setBusy(true);
    try {
      const r = await request<SendResult>('POST', `/v1/workbench/customers/${encodeURIComponent(externalId)}/push`, { template_id: v.template_id, variables: v.variables ?? {} }, { headers: { 'Idempotency-Key': idempotencyKey() } });
      setResult(r);
      onDone();
    } catch (e) {
      showProblem(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Card size="small" title={t('workbench.push')}>
      {templates.length === 0 && <Alert type="info" message={t('workbench.noTemplates')} />}
      {banner.length > 0 && <Alert type="error" message={banner.join('; ')} style={{ marginBottom: 8 }} />}
      <Form form={form} layout="vertical" onFinish={push}>
        <Form.Item name="template_id" label={t('workbench.template')} rules={[{ required: true, message: t('form.required') }]}>
          <Select options={templates.map((x) => ({ value: x.id, label: `${x.name} · ${t(`channel.${x.channel}`, { defaultValue: x.channel })}` }))} />
        </Form.Item>
        {tpl && <Typography.Paragraph type="secondary" style={{ whiteSpace: 'pre-wrap' }}>{tpl.body}</Typography.Paragraph>}
        {(tpl?.variables ?? []).map((name) => (
          <Form.Item key={name} name={['variables', name]} label={name}>
            <Input />
          </Form.Item>
        ))}
        <Button type="primary" htmlType="submit" loading={busy} disabled={!tpl}>
          {t('workbench.send')}
        </Button>
      </Form>
      {result && (
        <Alert
          style={{ marginTop: 8 }}
          type={result.outcome === 'sent' ? 'success' : result.outcome === 'suppressed' ? 'warning' : 'error'}
          message={`${t(`workbench.outcome.${result.outcome}`)}${result.reason ? ` · ${t(`workbench.reason.${result.reason}`, { defaultValue: result.reason })}` : ''}`}
        />
      )}
    </Card>
  );
}

function FollowUpCard({ externalId, tasks, onDone }: { externalId: string; tasks: Task[]; onDone: () => void }) {
  const { t } = useTranslation();
  const { message } = App.useApp();
  const [form] = Form.useForm();
  const { banner, showProblem, clear } = useProblemForm(form);
  const save = async (v: Record<string, unknown>) => {
    clear();
    try {
      // Unset members stay out of the body (task_id null is "no task").
      const body = Object.fromEntries(Object.entries(v).filter(([, x]) => x !== null && x !== undefined && x !== ''));
      if (body.task_id === undefined) delete body.close_task;
      await request('POST', `/v1/workbench/customers/${encodeURIComponent(externalId)}/follow-ups`, body);
      message.success(t('workbench.recorded'));
      form.resetFields();
      onDone();
    } catch (e) {
      showProblem(e);
    }
  };
  const open = tasks.filter((x) => x.status === 'open');
  return (
    <Card size="small" title={t('workbench.followUp')}>
      {banner.length > 0 && <Alert type="error" message={banner.join('; ')} style={{ marginBottom: 8 }} />}
      <Form form={form} layout="vertical" onFinish={save} initialValues={{ channel: 'call', outcome: 'reached', note: '', next_step: '', task_id: null, close_task: false }}
        onValuesChange={(changed) => {
          if ('task_id' in changed) form.setFieldValue('close_task', changed.task_id !== null && changed.task_id !== undefined);
        }}>
        <Row gutter={8}>
          <Col span={12}>
            <Form.Item name="channel" label={t('workbench.channel')}>
              <Select options={['call', 'visit', 'wechat', 'wecom'].map((c) => ({ value: c, label: t(`workbench.channels.${c}`) }))} />
            </Form.Item>
          </Col>
          <Col span={12}>
            <Form.Item name="outcome" label={t('workbench.result')}>
              <Select options={['no_answer', 'reached', 'interested', 'declined', 'converted', 'callback'].map((c) => ({ value: c, label: t(`workbench.outcomes.${c}`) }))} />
            </Form.Item>
          </Col>
        </Row>
        <Form.Item name="note" label={t('workbench.note')}>
          <Input.TextArea autoSize={{ minRows: 2 }} />
        </Form.Item>
        <Form.Item name="next_step" label={t('workbench.nextStep')}>
          <Input />
        </Form.Item>
        {open.length > 0 && (
          <Row gutter={8}>
            <Col span={16}>
              <Form.Item name="task_id" label={t('workbench.forTask')}>
                <Select allowClear options={open.map((x) => ({ value: x.id, label: x.title }))} />
              </Form.Item>
            </Col>
            <Col span={8}>
              <Form.Item name="close_task" valuePropName="checked" label=" ">
                <Checkbox>{t('workbench.closeTask')}</Checkbox>
              </Form.Item>
            </Col>
          </Row>
        )}
        <Button type="primary" htmlType="submit">
          {t('workbench.record')}
        </Button>
      </Form>
    </Card>
  );
}

function Workbench360({ externalId, onChange }: { externalId: string; onChange: () => void }) {
  const { t } = useTranslation();
  const [view, setView] = useState<View360 | null>(null);
  const [error, setError] = useState<string | null>(null);
  const load = useCallback(async () => {
    try {
      setView(await request<View360>('GET', `/v1/workbench/customers/${encodeURIComponent(externalId)}`));
      setError(null);
    } catch (e) {
      setError(e instanceof ApiError ? e.message : String(e));
    }
  }, [externalId]);
  useEffect(() => {
    void load();
  }, [load]);
  if (error) return <Alert type="error" message={error} />;
  if (!view) return null;
  const c = view.customer;
  const changed = () => {
    void load();
    onChange();
  };
  return (
    <Space direction="vertical" style={{ width: '100%' }}>
      <Descriptions bordered size="small" column={3}>
        <Descriptions.Item label={t('customer.externalId')}>{c.external_id}</Descriptions.Item>
        <Descriptions.Item label={t('customer.name')}>{c.name}</Descriptions.Item>
        <Descriptions.Item label={t('customer.phone')}>{c.phone}</Descriptions.Item>
        <Descriptions.Item label="AUM">¥{view.holdings.aum ?? '—'}</Descriptions.Item>
        <Descriptions.Item label={t('workbench.level')}>{t(`level.${view.holdings.level}`, { defaultValue: view.holdings.level ?? '—' })}</Descriptions.Item>
        <Descriptions.Item label={t('workbench.risk')}>{view.holdings.risk_rating ?? '—'}</Descriptions.Item>
        <Descriptions.Item label={t('workbench.products')} span={2}>
          {(view.holdings.products ?? []).map((p) => (
            <Tag key={p}>{p}</Tag>
          ))}
        </Descriptions.Item>
        <Descriptions.Item label={t('customer.points')}>{view.rewards.points_balance}</Descriptions.Item>
      </Descriptions>
      <Row gutter={16}>
        <Col span={12}>
          <PushCard externalId={externalId} onDone={changed} />
        </Col>
        <Col span={12}>
          <FollowUpCard externalId={externalId} tasks={view.tasks} onDone={changed} />
        </Col>
      </Row>
      <Tabs
        items={[
          { key: 'tasks', label: `${t('workbench.tasks')} (${view.tasks.length})`, children: <TaskTable tasks={view.tasks} /> },
          {
            key: 'follow',
            label: `${t('workbench.followUps')} (${view.follow_ups.length})`,
            children: view.follow_ups.length ? (
              <Timeline items={view.follow_ups.map((f, i) => ({ key: i, children: `${fmtTime(f.created_at)} · ${t(`workbench.channels.${f.channel}`)} · ${t(`workbench.outcomes.${f.outcome}`)}${f.note ? ` · ${f.note}` : ''}` }))} />
            ) : (
              <Empty />
            ),
          },
          {
            key: 'messages',
            label: `${t('workbench.messages')} (${view.messages.length})`,
            children: <Table size="small" rowKey={(_, i) => String(i)} pagination={false} dataSource={view.messages} columns={Object.keys(view.messages[0] ?? {}).map((k) => ({ title: k, dataIndex: k, render: (v: unknown) => (typeof v === 'object' ? JSON.stringify(v) : String(v ?? '')) }))} />,
          },
          {
            key: 'activities',
            label: `${t('workbench.activities')} (${view.activities.length})`,
            children: <Table size="small" rowKey={(_, i) => String(i)} pagination={false} dataSource={view.activities} columns={Object.keys(view.activities[0] ?? {}).map((k) => ({ title: k, dataIndex: k, render: (v: unknown) => (typeof v === 'object' ? JSON.stringify(v) : String(v ?? '')) }))} />,
          },
          {
            key: 'timeline',
            label: t('customer.timeline'),
            children: view.timeline?.length ? (
              <Timeline items={view.timeline.slice(0, 30).map((e) => ({ key: e.seq, children: `${fmtTime(e.occurred_at)} · ${t(`event.${e.type}`, { defaultValue: e.type })}` }))} />
            ) : (
              <Empty />
            ),
          },
        ]}
      />
    </Space>
  );
}

function TaskTable({ tasks, onOpen, onClose }: { tasks: Task[]; onOpen?: (c: string) => void; onClose?: (task: Task, status: 'done' | 'cancelled') => void }) {
  const { t } = useTranslation();
  return (
    <Table<Task>
      size="small"
      rowKey="id"
      pagination={false}
      dataSource={tasks}
      columns={taskColumns((k) => t(k), onOpen, onClose)}
    />
  );
}

function taskColumns(t: (k: string) => string, onOpen?: (c: string) => void, onClose?: (task: Task, status: 'done' | 'cancelled') => void) {
  return [
    { title: t('workbench.priority'), dataIndex: 'priority', render: (p: number) => <Tag color={priorityColor[p]}>P{p}</Tag> },
    { title: t('workbench.task'), dataIndex: 'title' },
    { title: t('customer.externalId'), dataIndex: 'customer', render: (c: string) => (onOpen ? <a onClick={() => onOpen(c)}>{c}</a> : c) },
    { title: t('workbench.due'), dataIndex: 'due_at', render: (v: string) => fmtTime(v) },
    { title: t('workbench.origin'), dataIndex: 'origin' },
    { title: t('activity.state'), dataIndex: 'status', render: (s: string) => t(`workbench.status.${s}`) },
    {
      title: '',
      render: (_: unknown, task: Task) =>
        task.status === 'open' && onClose ? (
          <Space>
            <Button size="small" onClick={() => onClose(task, 'done')}>
              {t('workbench.done')}
            </Button>
            <Button size="small" onClick={() => onClose(task, 'cancelled')}>
              {t('workbench.cancel')}
            </Button>
          </Space>
        ) : null,
    },
  ];
}

export default function Workbench() {
  const { t } = useTranslation();
  const { message } = App.useApp();
  const [me, setMe] = useState<{ manager_id?: string } | null>(null);
  const [meError, setMeError] = useState<string | null>(null);
  const [status, setStatus] = useState('open');
  const [version, setVersion] = useState(0);
  const [open, setOpen] = useState<string | null>(null);

  useEffect(() => {
    void request<{ manager_id: string }>('GET', '/v1/workbench/me').then(setMe, (e) => setMeError(e instanceof ApiError ? e.message : String(e)));
  }, []);
  const loadTasks = useCallback(
    async (cursor: string | undefined, limit: number) => {
      const r = await request<{ tasks: Task[]; next_cursor: string | null }>('GET', `/v1/workbench/tasks?status=${status}&limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      return { items: r.tasks, next: r.next_cursor };
    },
    [status],
  );
  const loadCustomers = useCallback(async (cursor: string | undefined, limit: number) => {
    const r = await request<{ customers: Customer[]; next_cursor: string | null }>('GET', `/v1/workbench/customers?limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    return { items: r.customers, next: r.next_cursor };
  }, []);
  const close = async (task: Task, s: 'done' | 'cancelled') => {
    try {
      await request('POST', `/v1/workbench/tasks/${task.id}/close`, { status: s });
      setVersion((v) => v + 1);
    } catch (e) {
      message.error(String((e as Error).message));
    }
  };

  if (meError) return <Alert type="warning" message={meError} />;
  return (
    <Space direction="vertical" style={{ width: '100%' }} size="middle">
      <Typography.Title level={4} style={{ margin: 0 }}>
        {t('menu.workbench')} {me?.manager_id && <Tag>{me.manager_id}</Tag>}
      </Typography.Title>
      <Kpis version={version} />
      <Tabs
        items={[
          {
            key: 'tasks',
            label: t('workbench.inbox'),
            children: (
              <Space direction="vertical" style={{ width: '100%' }}>
                <Segmented value={status} onChange={(v) => setStatus(String(v))} options={['open', 'done', 'cancelled'].map((s) => ({ value: s, label: t(`workbench.status.${s}`) }))} />
                <CursorTable<Task> rowKey="id" load={loadTasks} deps={[status, version]} columns={taskColumns((k) => t(k), setOpen, (task, s) => void close(task, s))} />
              </Space>
            ),
          },
          {
            key: 'customers',
            label: t('workbench.myCustomers'),
            children: (
              <CursorTable<Customer>
                rowKey="external_id"
                load={loadCustomers}
                onRow={(r) => ({ onClick: () => setOpen(r.external_id!), style: { cursor: 'pointer' } })}
                columns={[
                  { title: t('customer.externalId'), dataIndex: 'external_id' },
                  { title: t('customer.name'), dataIndex: 'name' },
                  { title: t('customer.phone'), dataIndex: 'phone' },
                  { title: t('workbench.level'), render: (_, r) => t(`level.${(r.tags as Record<string, unknown>)?.level}`, { defaultValue: '' }) },
                  { title: 'AUM', align: 'right', render: (_, r) => String((r.tags as Record<string, unknown>)?.aum ?? '') },
                ]}
              />
            ),
          },
        ]}
      />
      <Drawer width={1000} open={!!open} onClose={() => setOpen(null)} title={`${t('customer.profile')} ${open ?? ''}`} destroyOnClose>
        {open && <Workbench360 externalId={open} onChange={() => setVersion((v) => v + 1)} />}
      </Drawer>
    </Space>
  );
}
