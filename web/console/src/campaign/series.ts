// Recurring campaigns on the list and report pages: a series is a campaign whose definition
// has `recurrence`; its runs are campaigns with parent_id (docs/campaigns.md).
import type { Schemas } from '../api/client';
import type { Recurrence } from './recurrence';

type Campaign = Schemas['Campaign'];

export const statusColor: Record<string, string> = { draft: 'default', submitted: 'gold', scheduled: 'cyan', running: 'green', paused: 'orange', completed: 'blue', cancelled: 'default' };

export function recurrenceOf(c: Pick<Campaign, 'definition' | 'recurrence'> | null | undefined): Recurrence | null {
  // Lists carry the recurrence of each campaign; a single campaign also has its definition.
  const r = (c?.recurrence ?? (c?.definition as { recurrence?: Recurrence | null } | undefined)?.recurrence) as Recurrence | null | undefined;
  return r && typeof r === 'object' && r.every ? r : null;
}

export interface RunReport {
  campaign: Campaign;
  audience: number;
  sent: number;
  delivered: number;
  cost_fen: number;
  treated_converted: number;
}

export interface RunRow {
  id: number;
  run_no: number;
  status: string;
  start: string | null; // when the run started: its snapshot, else its start time
  audience: number;
  sent: number;
  delivered: number;
  cost_fen: number;
  converted: number;
}

// The report's `runs` as table rows, newest first.
export function runRows(runs: RunReport[] | undefined): RunRow[] {
  return (runs ?? [])
    .map((r) => ({
      id: r.campaign.id ?? 0,
      run_no: r.campaign.run_no ?? 0,
      status: r.campaign.status ?? '',
      start: r.campaign.snapshot_at ?? r.campaign.start_at ?? null,
      audience: r.audience ?? 0,
      sent: r.sent ?? 0,
      delivered: r.delivered ?? 0,
      cost_fen: r.cost_fen ?? 0,
      converted: r.treated_converted ?? 0,
    }))
    .sort((a, b) => b.run_no - a.run_no);
}

// The builder's fields whose shown API error an edit makes stale, from antd's onValuesChange
// "changed" object: each leaf, and a list of plain values as a whole (the weekday checkboxes,
// the month days: the API names an entry, recurrence.weekdays[0], the form shows it on the
// list), an emptied list included.
export function staleFields(changed: unknown, prefix: (string | number)[] = []): (string | number)[][] {
  if (Array.isArray(changed)) {
    const plain = changed.every((v) => v === null || typeof v !== 'object');
    const out: (string | number)[][] = plain && prefix.length ? [prefix] : [];
    changed.forEach((v, i) => out.push(...staleFields(v, [...prefix, i])));
    return out;
  }
  if (changed && typeof changed === 'object' && !(changed as { isValid?: unknown }).isValid) {
    return Object.entries(changed).flatMap(([k, v]) => staleFields(v, [...prefix, k]));
  }
  return prefix.length ? [prefix] : [];
}
