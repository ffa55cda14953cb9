// A journey's stuck entries (docs/journeys.md, "Transient failures and stuck entries"): the
// entries whose action failed transiently more times than the engine tries, page by page with
// the API's cursor, and for those who may change journeys (journeys:write) a selection to retry
// or exit, each after a confirmation. The answer says which entries changed and which were not
// stuck any more (another operator, or the journey's end, handled them first); the list starts
// again from its first page and the report reloads its stats through onChanged.
//
// StepCounts is the report's per-step table: treated entries in each step, those waiting for
// their next attempt after a transient failure, and those stuck there.
import { Alert, Button, Card, Popconfirm, Space, Table, Typography } from 'antd';
import { useCallback, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { request, type Schemas } from '../api/client';
import { ApiError, problemFields } from '../api/problem';
import { useAuth } from '../auth';
import { CursorTable } from '../components/CursorTable';
import { fmtTime } from '../pages/Audiences';

export type StuckEntry = Schemas['JourneyEntry'] & { customer?: string };
type StuckPage = { entries?: StuckEntry[]; next_cursor?: string | null };
export type StuckAction = 'retry' | 'exit';
// The answer of POST /v1/journeys/{id}/stuck/{retry,exit}: the changed ids under `retried` or
// `exited`, the others under `not_stuck`.
type StuckAnswer = { retried?: number[]; exited?: number[]; not_stuck?: number[] };

// Entries a page, and so at most selected for one request (the API takes up to 500): an outage
// can leave many entries stuck, and an operator handles them a page at a time.
export const kStuckPageSize = 100;

export interface StuckResult {
  action: StuckAction;
  changed: number[];
  notStuck: number[];
}

// The text of a failed call: the problem's field errors ("entry_ids: at most 500 per
// request"), or its detail.
export function problemText(e: unknown): string {
  if (e instanceof ApiError) return problemFields(e.problem, () => false).rest.join('; ');
  return String((e as Error)?.message ?? e);
}

export function StuckEntries({ journeyId, onChanged }: { journeyId: number | string; onChanged?: () => void }) {
  const { t } = useTranslation();
  const { can } = useAuth();
  const writable = can('journeys:write');
  const [selected, setSelected] = useState<number[]>([]);
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<StuckResult | null>(null);
  const [error, setError] = useState<string | null>(null);
  // Bumped after an action: the table reads its first page again.
  const [generation, setGeneration] = useState(0);

  const load = useCallback(
    async (cursor: string | undefined, limit: number) => {
      const r = await request<StuckPage>('GET', `/v1/journeys/${journeyId}/stuck`, undefined, { query: { cursor, limit } });
      // A selection belongs to the page it was made on.
      setSelected([]);
      return { items: r.entries ?? [], next: r.next_cursor ?? null };
    },
    [journeyId],
  );

  const act = async (action: StuckAction) => {
    const ids = selected;
    setBusy(true);
    setError(null);
    setResult(null);
    try {
      const r = await request<StuckAnswer>('POST', `/v1/journeys/${journeyId}/stuck/${action}`, { entry_ids: ids });
      setResult({ action, changed: (action === 'retry' ? r.retried : r.exited) ?? [], notStuck: r.not_stuck ?? [] });
      setGeneration((g) => g + 1);
      onChanged?.();
    } catch (e) {
      setError(problemText(e));
    } finally {
      setBusy(false);
    }
  };

  const none = selected.length === 0;
  return (
    <Card
      size="small"
      title={t('stuck.title')}
      data-testid="stuck-entries"
      extra={
        writable && (
          <Space>
            <Popconfirm title={t('stuck.retryConfirm', { n: selected.length })} description={t('stuck.retryHelp')} onConfirm={() => void act('retry')} disabled={none || busy}>
              <Button disabled={none || busy} data-testid="stuck-retry">
                {t('stuck.retry')}
              </Button>
            </Popconfirm>
            <Popconfirm title={t('stuck.exitConfirm', { n: selected.length })} description={t('stuck.exitHelp')} onConfirm={() => void act('exit')} disabled={none || busy}>
              <Button danger disabled={none || busy} data-testid="stuck-exit">
                {t('stuck.exit')}
              </Button>
            </Popconfirm>
          </Space>
        )
      }
    >
      <Space direction="vertical" style={{ width: '100%' }}>
        <Typography.Text type="secondary">{t('stuck.help')}</Typography.Text>
        {result && (
          <Alert
            type={result.notStuck.length ? 'warning' : 'success'}
            showIcon
            closable
            onClose={() => setResult(null)}
            data-testid="stuck-result"
            message={t(result.action === 'retry' ? 'stuck.retried' : 'stuck.exited', { n: result.changed.length, total: result.changed.length + result.notStuck.length })}
            description={result.notStuck.length ? t('stuck.notStuck', { ids: result.notStuck.map((i) => `#${i}`).join(', ') }) : undefined}
          />
        )}
        {error && <Alert type="error" showIcon closable onClose={() => setError(null)} message={error} data-testid="stuck-error" />}
        <CursorTable<StuckEntry>
          rowKey="id"
          load={load}
          pageSize={kStuckPageSize}
          deps={[load, generation]}
          rowSelection={writable ? { selectedRowKeys: selected, onChange: (keys) => setSelected(keys as number[]) } : undefined}
          locale={{ emptyText: t('stuck.empty') }}
          columns={[
            { title: 'ID', dataIndex: 'id', width: 80 },
            { title: t('stuck.customer'), dataIndex: 'customer' },
            { title: t('journey.step'), dataIndex: 'step' },
            { title: t('stuck.attempts'), dataIndex: 'attempts', width: 90 },
            { title: t('stuck.lastError'), dataIndex: 'last_error', render: (v) => v ?? '—' },
            { title: t('stuck.since'), dataIndex: 'stuck_at', render: (v) => fmtTime(v) },
          ]}
        />
      </Space>
    </Card>
  );
}

export interface StepRow {
  step: string;
  inStep: number;
  retrying: number;
  stuck: number;
}

// The definition's steps in order with their figures, then any step the figures name that the
// definition no longer has (entries on an older version).
export function stepRows(steps: string[], stats: Schemas['JourneyStats'] | null): StepRow[] {
  const inStep = stats?.in_step ?? {};
  const retrying = stats?.retrying_in_step ?? {};
  const stuck = stats?.stuck_in_step ?? {};
  const all = [...steps];
  for (const s of [...Object.keys(inStep), ...Object.keys(retrying), ...Object.keys(stuck)]) if (!all.includes(s)) all.push(s);
  return all.map((s) => ({ step: s, inStep: inStep[s] ?? 0, retrying: retrying[s] ?? 0, stuck: stuck[s] ?? 0 }));
}

export function StepCounts({ rows }: { rows: StepRow[] }) {
  const { t } = useTranslation();
  return (
    <Card size="small" title={t('stuck.steps')}>
      <Table<StepRow>
        rowKey="step"
        size="small"
        pagination={false}
        dataSource={rows}
        columns={[
          { title: t('journey.step'), dataIndex: 'step' },
          { title: t('stuck.inStep'), dataIndex: 'inStep', render: (v, r) => <span data-testid={`step-in-${r.step}`}>{v}</span> },
          { title: t('stuck.retrying'), dataIndex: 'retrying', render: (v, r) => <span data-testid={`step-retrying-${r.step}`}>{v}</span> },
          { title: t('journey.stuck'), dataIndex: 'stuck', render: (v, r) => <Typography.Text type={v ? 'danger' : undefined} data-testid={`step-stuck-${r.step}`}>{v}</Typography.Text> },
        ]}
      />
    </Card>
  );
}
