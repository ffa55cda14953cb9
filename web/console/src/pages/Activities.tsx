import { PlusOutlined } from '@ant-design/icons';
import { Button, Space, Tag, Typography } from 'antd';
import { useCallback } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useNavigate } from 'react-router-dom';
import { api, type Schemas } from '../api/client';
import { useAuth } from '../auth';
import { CursorTable } from '../components/CursorTable';
import { fmtTime } from './Audiences';

export type Activity = Schemas['Activity'];

export const stateColor: Record<string, string> = {
  draft: 'default',
  submitted: 'gold',
  scheduled: 'cyan',
  live: 'green',
  paused: 'orange',
  ended: 'default',
};

export function StateTag({ state }: { state?: string }) {
  const { t } = useTranslation();
  return (
    <Tag color={stateColor[state ?? ''] ?? 'default'} data-testid="activity-state">
      {t(`state.${state}`)}
    </Tag>
  );
}

export default function Activities() {
  const { t } = useTranslation();
  const nav = useNavigate();
  const { can } = useAuth();
  const load = useCallback(async (cursor: string | undefined, limit: number) => {
    const r = await api.get('/v1/activities', { query: { cursor, limit } });
    // The list carries no terms; the template comes with each activity.
    const items = await Promise.all(
      ((r.activities ?? []) as Activity[]).map((a) => api.get('/v1/activities/{id}', { params: { id: a.id! } }).then((full) => full as Activity, () => a)),
    );
    return { items, next: r.next_cursor ?? null };
  }, []);
  return (
    <Space direction="vertical" style={{ width: '100%' }}>
      <Space style={{ justifyContent: 'space-between', width: '100%' }}>
        <Typography.Title level={4} style={{ margin: 0 }}>
          {t('menu.activities')}
        </Typography.Title>
        {can('activities:write') && (
          <Button type="primary" icon={<PlusOutlined />} onClick={() => nav('/activities/new')} data-testid="activity-new">
            {t('wizard.title')}
          </Button>
        )}
      </Space>
      <CursorTable<Activity>
        rowKey="id"
        load={load}
        columns={[
          { title: 'ID', dataIndex: 'id', width: 70 },
          { title: t('wizard.name'), dataIndex: 'name', render: (v, r) => <Link to={`/activities/${r.id}`}>{v}</Link> },
          { title: t('wizard.template'), render: (_, r) => { const tpl = (r.terms as { display?: { template?: string } } | undefined)?.display?.template; return tpl ? t(`template.${tpl}`) : ''; } },
          { title: t('activity.state'), dataIndex: 'state', render: (s) => <StateTag state={s} /> },
          { title: t('activity.version'), render: (_, r) => r.latest?.version },
          { title: t('common.createdBy'), dataIndex: 'created_by' },
          { title: t('common.updatedAt'), dataIndex: 'updated_at', render: (v) => fmtTime(v) },
        ]}
      />
    </Space>
  );
}
