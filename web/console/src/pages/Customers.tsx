// Customers: find by customer id, mobile or ID number (exact, through the server's keyed hash),
// or browse a sample of a rule's members; the customer 360 shows the profile (masked unless the
// role holds pii:read and asks, which is audited), tags by category, points and the event
// timeline.
import { Alert, Button, Card, Col, Descriptions, Empty, Form, Input, Row, Select, Space, Table, Tabs, Tag, Timeline, Typography } from 'antd';
import { useEffect, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { api, request, type Schemas } from '../api/client';
import { ApiError } from '../api/problem';
import { tagLabel, useTags } from '../api/tags';
import { useAuth } from '../auth';
import { fmtTime } from './Audiences';

type Customer = Schemas['Customer'];

interface EventRow {
  seq: number;
  id: string;
  type: string;
  occurred_at: string;
  source?: string;
  properties?: Record<string, unknown>;
}

function tagValueText(v: unknown): string {
  if (Array.isArray(v)) return v.join(', ');
  if (v && typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

export function Customer360({ externalId }: { externalId: string }) {
  const { t, i18n } = useTranslation();
  const en = i18n.language.startsWith('en');
  const { can } = useAuth();
  const tags = useTags();
  const [customer, setCustomer] = useState<Customer | null>(null);
  const [events, setEvents] = useState<EventRow[]>([]);
  const [nextBefore, setNextBefore] = useState<number | null>(null);
  const [points, setPoints] = useState<{ balance: number } | null>(null);
  const [error, setError] = useState<string | null>(null);

  const load = async (unmask = false) => {
    setError(null);
    try {
      setCustomer(await api.get('/v1/customers/{external_id}', { params: { external_id: externalId }, query: unmask ? { unmask: 'true' } : {} }));
      const ev = await request<{ events: EventRow[]; next_before?: number }>('GET', `/v1/customers/${encodeURIComponent(externalId)}/events?limit=20`);
      setEvents(ev.events ?? []);
      setNextBefore(ev.next_before ?? null);
      if (can('rewards:read')) {
        setPoints(await request<{ balance: number }>('GET', `/v1/customers/${encodeURIComponent(externalId)}/points?limit=1`).catch(() => null));
      }
    } catch (e) {
      setCustomer(null);
      setError(e instanceof ApiError ? e.message : String(e));
    }
  };
  useEffect(() => {
    void load();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [externalId]);
  const more = async () => {
    const ev = await request<{ events: EventRow[]; next_before?: number }>('GET', `/v1/customers/${encodeURIComponent(externalId)}/events?limit=20&before=${nextBefore}`);
    setEvents([...events, ...(ev.events ?? [])]);
    setNextBefore(ev.next_before ?? null);
  };

  if (error) return <Alert type="error" message={error} />;
  if (!customer) return null;
  const byCategory = new Map<string, [string, unknown][]>();
  for (const [k, v] of Object.entries(customer.tags ?? {})) {
    const cat = tags.find((x) => x.key === k)?.category ?? 'basic';
    byCategory.set(cat, [...(byCategory.get(cat) ?? []), [k, v]]);
  }
  return (
    <Space direction="vertical" style={{ width: '100%' }} data-testid="customer-360">
      <Descriptions bordered size="small" column={3} title={`${t('customer.profile')} ${customer.external_id}`} extra={
        can('pii:read') && customer.pii !== 'unmasked' ? <Button onClick={() => void load(true)}>{t('customer.unmask')}</Button> : <Tag>{t(`customer.pii.${customer.pii}`)}</Tag>
      }>
        <Descriptions.Item label={t('customer.name')}>{customer.name}</Descriptions.Item>
        <Descriptions.Item label={t('customer.phone')}>{customer.phone}</Descriptions.Item>
        <Descriptions.Item label={t('customer.idNumber')}>{customer.id_number}</Descriptions.Item>
        {points && <Descriptions.Item label={t('customer.points')}>{points.balance}</Descriptions.Item>}
        <Descriptions.Item label={t('common.createdAt')}>{fmtTime(customer.created_at)}</Descriptions.Item>
        <Descriptions.Item label={t('common.updatedAt')}>{fmtTime(customer.updated_at)}</Descriptions.Item>
      </Descriptions>
      <Row gutter={16}>
        <Col span={14}>
          <Card size="small" title={t('customer.tags')}>
            <Tabs
              size="small"
              items={[...byCategory.entries()].map(([cat, kv]) => ({
                key: cat,
                label: t(`tagCategory.${cat}`),
                children: (
                  <Descriptions size="small" column={2}>
                    {kv.map(([k, v]) => (
                      <Descriptions.Item key={k} label={tagLabel(tags.find((x) => x.key === k), en, k)}>
                        {tagValueText(v)}
                      </Descriptions.Item>
                    ))}
                  </Descriptions>
                ),
              }))}
            />
          </Card>
        </Col>
        <Col span={10}>
          <Card size="small" title={t('customer.timeline')}>
            {events.length === 0 ? (
              <Empty />
            ) : (
              <Timeline
                items={events.map((e) => ({
                  key: e.seq,
                  children: (
                    <div>
                      <b>{t(`event.${e.type}`, { defaultValue: e.type })}</b> <Typography.Text type="secondary">{fmtTime(e.occurred_at)}</Typography.Text>
                      {e.properties && Object.keys(e.properties).length > 0 && <div style={{ fontSize: 12, color: '#888' }}>{JSON.stringify(e.properties)}</div>}
                    </div>
                  ),
                }))}
              />
            )}
            {nextBefore && <Button onClick={() => void more()}>{t('page.more')}</Button>}
          </Card>
        </Col>
      </Row>
    </Space>
  );
}

export default function Customers() {
  const { t } = useTranslation();
  const [selected, setSelected] = useState<string | null>(null);
  const [found, setFound] = useState<Customer[] | null>(null);
  const [form] = Form.useForm();
  const [error, setError] = useState<string | null>(null);
  const [sampleRule, setSampleRule] = useState('');

  const search = async (v: { by: string; value: string }) => {
    setError(null);
    form.setFields([{ name: 'value', errors: [] }]);
    const value = (v.value ?? '').trim();
    try {
      if (v.by === 'external_id') {
        setFound(null);
        setSelected(value);
        return;
      }
      const r = await api.post('/v1/customers/lookup', { [v.by]: value });
      setFound((r.customers ?? []) as Customer[]);
      setSelected(r.customers?.length === 1 ? r.customers[0].external_id! : null);
    } catch (e) {
      if (e instanceof ApiError && e.problem.errors?.length) form.setFields([{ name: 'value', errors: e.problem.errors.map((x) => x.reason) }]);
      else setError(String((e as Error).message));
    }
  };
  const sample = async () => {
    setError(null);
    try {
      const r = await request<{ external_ids: string[] }>('POST', '/v1/segments/sample', { rule: sampleRule, limit: 20 });
      setFound(r.external_ids.map((id) => ({ external_id: id }) as Customer));
    } catch (e) {
      setError(String((e as Error).message));
    }
  };

  return (
    <Space direction="vertical" style={{ width: '100%' }} size="middle">
      <Typography.Title level={4} style={{ margin: 0 }}>
        {t('menu.customers')}
      </Typography.Title>
      <Card size="small">
        <Form form={form} layout="inline" initialValues={{ by: 'external_id' }} onFinish={search}>
          <Form.Item name="by">
            <Select
              style={{ width: 140 }}
              options={[
                { value: 'external_id', label: t('customer.externalId') },
                { value: 'phone', label: t('customer.phone') },
                { value: 'id_number', label: t('customer.idNumber') },
              ]}
            />
          </Form.Item>
          <Form.Item name="value" rules={[{ required: true, message: t('form.required') }]}>
            <Input style={{ width: 260 }} data-testid="customer-search" />
          </Form.Item>
          <Button type="primary" htmlType="submit">
            {t('customer.search')}
          </Button>
        </Form>
        <Space style={{ marginTop: 12 }}>
          <Input style={{ width: 420, fontFamily: 'monospace' }} placeholder={t('customer.sampleRule')} value={sampleRule} onChange={(e) => setSampleRule(e.target.value)} />
          <Button onClick={() => void sample()}>{t('customer.sample')}</Button>
        </Space>
      </Card>
      {error && <Alert type="error" message={error} />}
      {found && (
        <Table<Customer>
          size="small"
          rowKey="external_id"
          pagination={false}
          dataSource={found}
          locale={{ emptyText: t('customer.none') }}
          onRow={(r) => ({ onClick: () => setSelected(r.external_id!), style: { cursor: 'pointer' } })}
          columns={[
            { title: t('customer.externalId'), dataIndex: 'external_id' },
            { title: t('customer.name'), dataIndex: 'name' },
            { title: t('customer.phone'), dataIndex: 'phone' },
          ]}
        />
      )}
      {selected && <Customer360 externalId={selected} />}
    </Space>
  );
}
