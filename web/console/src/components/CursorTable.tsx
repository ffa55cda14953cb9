// A table over a cursor-paginated list: pages forward with next_cursor, back through the
// cursors already seen.
import { Button, Space, Table, type TableProps } from 'antd';
import { useCallback, useEffect, useState } from 'react';
import { useTranslation } from 'react-i18next';

export interface Page<T> {
  items: T[];
  next: string | null;
}

export function CursorTable<T extends object>({
  load,
  deps = [],
  pageSize = 20,
  ...props
}: { load: (cursor: string | undefined, limit: number) => Promise<Page<T>>; deps?: unknown[]; pageSize?: number } & Omit<TableProps<T>, 'dataSource' | 'pagination'>) {
  const { t } = useTranslation();
  const [cursors, setCursors] = useState<(string | undefined)[]>([undefined]);
  const [page, setPage] = useState<Page<T>>({ items: [], next: null });
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const fetchAt = useCallback(
    async (stack: (string | undefined)[]) => {
      setLoading(true);
      setError(null);
      try {
        setPage(await load(stack[stack.length - 1], pageSize));
        setCursors(stack);
      } catch (e) {
        setError(String((e as Error).message ?? e));
      } finally {
        setLoading(false);
      }
    },
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [load, pageSize],
  );

  useEffect(() => {
    void fetchAt([undefined]);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, deps);

  return (
    <div>
      {error && <div style={{ color: '#c8102e', marginBottom: 8 }}>{error}</div>}
      <Table<T> {...props} dataSource={page.items} loading={loading} pagination={false} size="middle" />
      <Space style={{ marginTop: 12, justifyContent: 'flex-end', width: '100%' }}>
        <span>{t('page.n', { n: cursors.length })}</span>
        <Button disabled={cursors.length <= 1} onClick={() => void fetchAt(cursors.slice(0, -1))} data-testid="page-prev">
          {t('page.prev')}
        </Button>
        <Button disabled={!page.next} onClick={() => void fetchAt([...cursors, page.next!])} data-testid="page-next">
          {t('page.next')}
        </Button>
        <Button onClick={() => void fetchAt(cursors)}>{t('page.refresh')}</Button>
      </Space>
    </div>
  );
}
