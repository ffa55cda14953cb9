import { PlusOutlined } from '@ant-design/icons';
import { Button, Space, Typography } from 'antd';
import { useCallback } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useNavigate } from 'react-router-dom';
import { api, type Schemas } from '../api/client';
import { useAuth } from '../auth';
import { CursorTable } from '../components/CursorTable';

type Audience = Schemas['Audience'];

export default function Audiences() {
  const { t } = useTranslation();
  const nav = useNavigate();
  const { can } = useAuth();
  const load = useCallback(async (cursor: string | undefined, limit: number) => {
    const r = await api.get('/v1/audiences', { query: { cursor, limit } });
    // The list carries no counts; each audience's live count comes with the audience itself.
    const items = await Promise.all(
      ((r.audiences ?? []) as Audience[]).map((a) => api.get('/v1/audiences/{id}', { params: { id: a.id! } }).then((full) => ({ ...a, count: full.count }), () => a)),
    );
    return { items, next: r.next_cursor ?? null };
  }, []);
  return (
    <Space direction="vertical" style={{ width: '100%' }}>
      <Space style={{ justifyContent: 'space-between', width: '100%' }}>
        <Typography.Title level={4} style={{ margin: 0 }}>
          {t('menu.audiences')}
        </Typography.Title>
        <Button type="primary" icon={<PlusOutlined />} onClick={() => nav('/audiences/new')} data-testid="audience-new">
          {t('audience.new')}
        </Button>
      </Space>
      <CursorTable<Audience>
        rowKey="id"
        load={load}
        columns={[
          { title: 'ID', dataIndex: 'id', width: 70 },
          { title: t('audience.name'), dataIndex: 'name', render: (v, r) => (can('audiences:read') ? <Link to={`/audiences/${r.id}`}>{v}</Link> : v) },
          { title: t('audience.rule'), dataIndex: 'rule', render: (v) => <code>{v}</code> },
          { title: t('audience.count'), dataIndex: 'count', align: 'right', render: (v) => v?.toLocaleString() },
          { title: t('common.createdBy'), dataIndex: 'created_by' },
          { title: t('common.updatedAt'), dataIndex: 'updated_at', render: (v) => fmtTime(v) },
        ]}
      />
    </Space>
  );
}

export function fmtTime(v?: string | null): string {
  if (!v) return '';
  const d = new Date(v);
  return Number.isNaN(d.getTime()) ? v : d.toLocaleString();
}
