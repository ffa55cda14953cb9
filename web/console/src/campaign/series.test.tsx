// Series on the list and report pages: which campaigns the list reads in full (recorded calls),
// the report's runs as rows, and the runs table and summary rendered to HTML (node, no browser).
import { renderToString } from 'react-dom/server';
import { I18nextProvider } from 'react-i18next';
import { MemoryRouter } from 'react-router-dom';
import { describe, expect, it } from 'vitest';
import type { Schemas } from '../api/client';
import i18n from '../i18n';
import { RecurrenceSummary } from './RecurrenceSummary';
import { RunsTable } from './RunsTable';
import { recurrenceOf, runRows, staleFields, type RunReport } from './series';

type Campaign = Schemas['Campaign'];

const weekly = { every: 'week' as const, at: '10:30', weekdays: [1, 4] };
const def = (extra: object) => ({ name: 'x', audience: { rule: 'aum >= 0' }, channels: [], ...extra }) as unknown as Campaign['definition'];

function run(id: number, no: number, status: Campaign['status'], extra: Partial<RunReport> = {}): RunReport {
  return {
    campaign: { id, run_no: no, parent_id: 7, status, start_at: `2026-11-${25 + no}T02:30:00Z`, snapshot_at: no === 2 ? null : `2026-11-${25 + no}T02:30:01Z` },
    audience: 100 * no,
    sent: 90 * no,
    delivered: 80 * no,
    cost_fen: 450 * no,
    treated_converted: 3 * no,
    ...extra,
  };
}

describe('series', () => {
  it('tells a series by its definition', () => {
    expect(recurrenceOf({ definition: def({ recurrence: weekly }) })).toEqual(weekly);
    expect(recurrenceOf({ definition: def({}) })).toBeNull();
    expect(recurrenceOf({})).toBeNull();
  });

  it('tells a series in a list by its recurrence member', () => {
    expect(recurrenceOf({ recurrence: weekly })).toEqual(weekly);
    expect(recurrenceOf({ recurrence: null })).toBeNull();
  });

  it("lists the report's runs newest first with their own figures", () => {
    const rows = runRows([run(11, 1, 'completed'), run(12, 2, 'running')]);
    expect(rows.map((r) => [r.id, r.run_no, r.status, r.start, r.audience, r.sent, r.delivered, r.cost_fen, r.converted])).toEqual([
      [12, 2, 'running', '2026-11-27T02:30:00Z', 200, 180, 160, 900, 6], // no snapshot yet: its start time
      [11, 1, 'completed', '2026-11-26T02:30:01Z', 100, 90, 80, 450, 3],
    ]);
    expect(runRows(undefined)).toEqual([]);
  });

  it('renders each run linking to its own report', async () => {
    await i18n.changeLanguage('zh-CN');
    const html = renderToString(
      <I18nextProvider i18n={i18n}>
        <MemoryRouter>
          <RunsTable runs={[run(11, 1, 'completed'), run(12, 2, 'running')]} fmt={(v) => v ?? '—'} />
        </MemoryRouter>
      </I18nextProvider>,
    );
    expect(html).toContain('href="/campaigns/11"');
    expect(html).toContain('href="/campaigns/12"');
    expect(html).toContain('第 2 次');
    expect(html).toContain('发送中');
    expect(html).toContain('¥9.00'); // 900 fen
    expect(html.indexOf('/campaigns/12')).toBeLessThan(html.indexOf('/campaigns/11'));
  });

  it('summarises a series with its next run in the bank zone', async () => {
    await i18n.changeLanguage('zh-CN');
    const html = renderToString(
      <I18nextProvider i18n={i18n}>
        <RecurrenceSummary recurrence={weekly} nextRunAt="2026-11-26T02:30:00Z" zone="Asia/Shanghai" />
      </I18nextProvider>,
    );
    expect(html).toContain('周期发送');
    expect(html).toContain('每周一、周四 10:30');
    expect(html).toContain('下次发送<!-- -->: <span data-testid="recur-next-run-at">2026-11-26 10:30 周四</span>');
    await i18n.changeLanguage('en');
  });
});

describe('staleFields', () => {
  it('clears a leaf, a list of plain values as a whole, and an emptied list', () => {
    expect(staleFields({ recurrence: { weekdays: [1, 4] } })).toEqual([['recurrence', 'weekdays'], ['recurrence', 'weekdays', 0], ['recurrence', 'weekdays', 1]]);
    expect(staleFields({ recurrence: { weekdays: [] } })).toEqual([['recurrence', 'weekdays']]);
    // a list of objects is not a field: only the changed member of its entry
    // eslint-disable-next-line no-sparse-arrays
    expect(staleFields({ channels: [, { template_id: 6 }] })).toEqual([['channels', 1, 'template_id']]);
    expect(staleFields({ name: 'x' })).toEqual([['name']]);
  });
});
