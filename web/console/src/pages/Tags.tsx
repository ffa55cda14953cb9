import { Segmented, Space, Table, Tag, Typography } from 'antd';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { useTags, type TagDef } from '../api/tags';

export default function Tags() {
  const { t } = useTranslation();
  const tags = useTags();
  const [cat, setCat] = useState('all');
  const cats = ['all', ...new Set(tags.map((x) => x.category ?? 'basic'))];
  return (
    <Space direction="vertical" style={{ width: '100%' }}>
      <Typography.Title level={4} style={{ margin: 0 }}>
        {t('menu.tags')}
      </Typography.Title>
      <Segmented value={cat} onChange={(v) => setCat(String(v))} options={cats.map((c) => ({ value: c, label: c === 'all' ? t('common.all') : t(`tagCategory.${c}`) }))} />
      <Table<TagDef>
        rowKey="key"
        size="small"
        dataSource={tags.filter((x) => cat === 'all' || (x.category ?? 'basic') === cat)}
        pagination={{ pageSize: 50, hideOnSinglePage: true }}
        columns={[
          { title: t('tag.key'), dataIndex: 'key', render: (v) => <code>{v}</code> },
          { title: t('tag.nameZh'), dataIndex: 'name_zh' },
          { title: t('tag.nameEn'), dataIndex: 'name_en' },
          { title: t('tag.category'), dataIndex: 'category', render: (c) => t(`tagCategory.${c}`) },
          { title: t('tag.type'), dataIndex: 'type', render: (v) => <Tag>{v}</Tag> },
          { title: t('tag.source'), dataIndex: 'source' },
          { title: t('tag.values'), dataIndex: 'values', render: (v?: string[]) => (v ?? []).slice(0, 12).join(', ') + ((v ?? []).length > 12 ? ` … (${v!.length})` : '') },
          { title: t('tag.description'), dataIndex: 'description' },
        ]}
      />
    </Space>
  );
}
