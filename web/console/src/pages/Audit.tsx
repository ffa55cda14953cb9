// The audit log for auditors: filters, cursor pages, each entry's change and its hash chain,
// and a verification of the whole chain.
import { Alert, Button, Card, DatePicker, Form, Input, Space, Typography } from 'antd';
import { useCallback, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { api } from '../api/client';
import { CursorTable } from '../components/CursorTable';
import { fmtTime } from './Audiences';

interface Entry {
  seq?: number;
  time?: string;
  actor?: string;
  action?: string;
  object_type?: string;
  object_id?: string;
  detail?: unknown;
  ip?: string;
  hash?: string;
  prev_hash?: string;
}

export default function Audit() {
  const { t } = useTranslation();
  const [filters, setFilters] = useState<Record<string, string>>({});
  const [verify, setVerify] = useState<{ ok?: boolean; checked?: number; first_broken_seq?: number | null; reason?: string | null } | null>(null);
  const load = useCallback(
    async (cursor: string | undefined, limit: number) => {
      const r = await api.get('/v1/audit', { query: { cursor, limit, ...filters } });
      return { items: (r.entries ?? []) as Entry[], next: r.next_cursor ?? null };
    },
    [filters],
  );
  return (
    <Space direction="vertical" style={{ width: '100%' }}>
      <Typography.Title level={4} style={{ margin: 0 }}>
        {t('menu.audit')}
      </Typography.Title>
      <Card size="small">
        <Form
          layout="inline"
          onFinish={(v: Record<string, unknown>) => {
            const f: Record<string, string> = {};
            for (const k of ['actor', 'action', 'object_type', 'object_id']) if (v[k]) f[k] = String(v[k]);
            const range = v.range as [{ format(s: string): string }, { format(s: string): string }] | undefined;
            if (range) {
              f.from = range[0].format('YYYY-MM-DD');
              f.to = range[1].format('YYYY-MM-DD');
            }
            setFilters(f);
          }}
        >
          <Form.Item name="actor">
            <Input placeholder="user:alice" />
          </Form.Item>
          <Form.Item name="action">
            <Input placeholder="activity.create" />
          </Form.Item>
          <Form.Item name="object_type">
            <Input placeholder={t('audit.objectType')} />
          </Form.Item>
          <Form.Item name="object_id">
            <Input placeholder={t('audit.objectId')} />
          </Form.Item>
          <Form.Item name="range">
            <DatePicker.RangePicker />
          </Form.Item>
          <Button htmlType="submit" type="primary">
            {t('audit.filter')}
          </Button>
          <Button style={{ marginLeft: 8 }} onClick={() => void api.get('/v1/audit/verify').then((r) => setVerify(r as typeof verify))} data-testid="audit-verify">
            {t('audit.verify')}
          </Button>
        </Form>
        {verify && (
          <Alert
            style={{ marginTop: 12 }}
            type={verify.ok ? 'success' : 'error'}
            message={verify.ok ? t('audit.chainOk', { n: verify.checked }) : t('audit.chainBroken', { seq: verify.first_broken_seq, reason: verify.reason })}
          />
        )}
      </Card>
      <CursorTable<Entry>
        rowKey="seq"
        load={load}
        deps={[filters]}
        pageSize={50}
        expandable={{ expandedRowRender: (e) => <pre style={{ margin: 0, whiteSpace: 'pre-wrap' }}>{JSON.stringify({ detail: e.detail, ip: e.ip, prev_hash: e.prev_hash, hash: e.hash }, null, 2)}</pre> }}
        columns={[
          { title: '#', dataIndex: 'seq', width: 70 },
          { title: t('audit.time'), dataIndex: 'time', render: (v) => fmtTime(v) },
          { title: t('audit.actor'), dataIndex: 'actor' },
          { title: t('audit.action'), dataIndex: 'action', render: (v) => <code>{v}</code> },
          { title: t('audit.objectType'), dataIndex: 'object_type' },
          { title: t('audit.objectId'), dataIndex: 'object_id' },
          { title: t('audit.hash'), dataIndex: 'hash', render: (v?: string) => <code>{v?.slice(0, 10)}</code> },
        ]}
      />
    </Space>
  );
}
