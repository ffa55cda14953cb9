// @vitest-environment jsdom
// The stuck entries of a journey report, mounted in a DOM (jsdom) with the real auth provider and
// API client over a recorded fetch: which pages it reads with the cursor, which ids it sends to
// retry and exit after the confirmation, what it says about the answer, and that the actions
// are not offered without journeys:write.
import { act } from 'react';
import { createRoot, type Root } from 'react-dom/client';
import { I18nextProvider } from 'react-i18next';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { AuthProvider } from '../auth';
import i18n from '../i18n';
import { fmtTime } from '../pages/Audiences';
import { StepCounts, StuckEntries, stepRows, type StuckEntry } from './StuckEntries';

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;
// antd measures the scroll bar through a pseudo-element's style, which jsdom does not have.
const computedStyle = window.getComputedStyle.bind(window);
window.getComputedStyle = (elt: Element) => computedStyle(elt);

interface Call {
  method: string;
  url: string;
  body: unknown;
  csrf?: string;
}

const entry = (id: number, customer: string, step: string, attempts: number, last_error: string): StuckEntry => ({
  id,
  version: 1,
  entry_no: 1,
  holdout: false,
  state: 'stuck',
  step,
  due_at: null,
  stuck_at: '2026-11-21T03:04:00Z',
  entered_at: '2026-11-20T02:00:00Z',
  goal_until: null,
  ended_at: null,
  attempts,
  last_error,
  customer,
});

// The server of this test: journey 5 has stuck entries 11, 12 (first page, of 2) and 13; a retry
// or exit changes the ids still stuck and names the others not_stuck, as the API does.
class FakeServer {
  calls: Call[] = [];
  stuck = new Map<number, StuckEntry>([
    [11, entry(11, 'C0011', 'push', 10, 'outreach: sms gateway unavailable')],
    [12, entry(12, 'C0012', 'push', 10, 'outreach: sms gateway unavailable')],
    [13, entry(13, 'C0013', 'points', 10, 'the points ledger is not configured')],
  ]);
  failNext: { status: number; problem: object } | null = null;

  constructor(readonly permissions: string[]) {}

  fetch = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const url = String(input);
    const method = init?.method ?? 'GET';
    const body = init?.body ? JSON.parse(String(init.body)) : undefined;
    this.calls.push({ method, url, body, csrf: (init?.headers as Record<string, string>)?.['X-CSRF-Token'] });
    const json = (status: number, v: unknown, type = 'application/json') => new Response(JSON.stringify(v), { status, headers: { 'content-type': type } });
    if (url === '/v1/auth/me') return json(200, { kind: 'staff', username: 'op', permissions: this.permissions, csrf_token: 'csrf-1' });
    const u = new URL(url, 'http://console');
    if (method === 'GET' && u.pathname === '/v1/journeys/5/stuck') {
      const after = Number(u.searchParams.get('cursor') ?? 0);
      const limit = Number(u.searchParams.get('limit'));
      const ids = [...this.stuck.keys()].filter((i) => i > after).sort((a, b) => a - b);
      const page = ids.slice(0, limit);
      return json(200, { journey_id: 5, entries: page.map((i) => this.stuck.get(i)), next_cursor: ids.length > limit ? String(page[page.length - 1]) : null });
    }
    const m = /^\/v1\/journeys\/5\/stuck\/(retry|exit)$/.exec(u.pathname);
    if (method === 'POST' && m) {
      if (this.failNext) {
        const f = this.failNext;
        this.failNext = null;
        return json(f.status, f.problem, 'application/problem+json');
      }
      const ids = (body as { entry_ids: number[] }).entry_ids;
      const changed = ids.filter((i) => this.stuck.has(i));
      for (const i of changed) this.stuck.delete(i);
      return json(200, { journey_id: 5, [m[1] === 'retry' ? 'retried' : 'exited']: changed, not_stuck: ids.filter((i) => !changed.includes(i)) });
    }
    return json(404, { status: 404, detail: `no route ${method} ${url}` }, 'application/problem+json');
  };
}

let root: Root | null = null;
let host: HTMLElement;

beforeEach(async () => {
  await i18n.changeLanguage('en');
  // antd's responsive grid asks for media queries, which jsdom does not have.
  window.matchMedia ??= ((q: string) => ({ matches: false, media: q, onchange: null, addListener() {}, removeListener() {}, addEventListener() {}, removeEventListener() {}, dispatchEvent: () => false })) as unknown as typeof window.matchMedia;
  host = document.createElement('div');
  document.body.appendChild(host);
});

afterEach(() => {
  act(() => root?.unmount());
  root = null;
  document.body.innerHTML = '';
  vi.unstubAllGlobals();
});

// Lets the mocked fetches resolve and React commit, until `ready` holds (or 2 s pass).
async function settle(ready: () => boolean = () => true) {
  for (let i = 0; i < 200; i++) {
    await act(async () => {
      await new Promise((r) => setTimeout(r, 10));
    });
    if (ready()) return;
  }
  throw new Error('timed out waiting for the page');
}

async function mount(server: FakeServer, onChanged = () => {}) {
  vi.stubGlobal('fetch', vi.fn(server.fetch));
  root = createRoot(host);
  act(() =>
    root!.render(
      <I18nextProvider i18n={i18n}>
        <AuthProvider>
          <StuckEntries journeyId={5} onChanged={onChanged} />
        </AuthProvider>
      </I18nextProvider>,
    ),
  );
  await settle(() => server.calls.some((c) => c.url === '/v1/auth/me') && rows().length > 0);
}

const rows = () => [...host.querySelectorAll<HTMLTableRowElement>('tbody tr.ant-table-row')];
const cells = () => rows().map((r) => [...r.querySelectorAll('td')].map((td) => td.textContent));
const button = (testid: string) => host.querySelector<HTMLButtonElement>(`[data-testid="${testid}"]`);
const stuckGets = (s: FakeServer) => s.calls.filter((c) => c.method === 'GET' && c.url.startsWith('/v1/journeys/5/stuck'));

async function click(el: Element | null) {
  expect(el).not.toBeNull();
  await act(async () => {
    (el as HTMLElement).click();
  });
}

async function select(id: number) {
  const row = host.querySelector(`tr[data-row-key="${id}"]`);
  await click(row!.querySelector('input[type="checkbox"]'));
}

// Clicks the action button, then the confirmation's OK.
async function confirm(testid: string) {
  await click(button(testid));
  await settle(() => document.querySelector('.ant-popconfirm .ant-btn-primary') !== null);
  const pop = document.querySelector('.ant-popconfirm')!;
  expect(pop.textContent).toMatch(/selected entries/);
  await click(pop.querySelector('.ant-btn-primary'));
}

describe('stuck entries', () => {
  it('lists the entries with customer, step, attempts and last error', async () => {
    const server = new FakeServer(['journeys:read', 'journeys:write']);
    await mount(server);
    // 100 a page: one page here, no next.
    expect(stuckGets(server).map((c) => c.url)).toEqual(['/v1/journeys/5/stuck?limit=100']);
    expect(cells().map((c) => c.slice(1, 6))).toEqual([
      ['11', 'C0011', 'push', '10', 'outreach: sms gateway unavailable'],
      ['12', 'C0012', 'push', '10', 'outreach: sms gateway unavailable'],
      ['13', 'C0013', 'points', '10', 'the points ledger is not configured'],
    ]);
    expect(host.querySelector('thead')!.textContent).toContain('Last error');
    expect(host.querySelector('thead')!.textContent).toContain('Stuck since');
    // The time the entry got stuck, not when it entered the journey.
    expect(host.querySelector('tbody')!.textContent).toContain(fmtTime('2026-11-21T03:04:00Z'));
    expect(host.querySelector('tbody')!.textContent).not.toContain(fmtTime('2026-11-20T02:00:00Z'));
    expect(button('page-next')!.disabled).toBe(true);
  });

  it('follows next_cursor forward and the cursors seen back', async () => {
    const server = new FakeServer(['journeys:read']);
    for (let i = 14; i <= 111; i++) server.stuck.set(i, entry(i, `C00${i}`, 'push', 10, 'down'));
    await mount(server);
    expect(rows()).toHaveLength(100);
    expect(button('page-next')!.disabled).toBe(false);
    await click(button('page-next'));
    await settle(() => rows().length === 1);
    expect(stuckGets(server).map((c) => c.url)).toEqual(['/v1/journeys/5/stuck?limit=100', '/v1/journeys/5/stuck?cursor=110&limit=100']);
    // 11..110 on the first page, 111 on the second.
    expect(cells()[0][0]).toBe('111');
    expect(button('page-next')!.disabled).toBe(true);
    await click(button('page-prev'));
    await settle(() => rows().length === 100);
    expect(stuckGets(server).at(-1)!.url).toBe('/v1/journeys/5/stuck?limit=100');
  });

  it('retries the selected entries after the confirmation, says what changed and reloads', async () => {
    const server = new FakeServer(['journeys:read', 'journeys:write']);
    const onChanged = vi.fn();
    await mount(server, onChanged);
    expect(button('stuck-retry')!.disabled).toBe(true); // nothing selected yet
    await select(11);
    await select(13);
    expect(button('stuck-retry')!.disabled).toBe(false);
    // Meanwhile another operator exits entry 13.
    server.stuck.delete(13);
    await confirm('stuck-retry');
    await settle(() => host.querySelector('[data-testid="stuck-result"]') !== null && rows().length === 1);
    const posts = server.calls.filter((c) => c.method === 'POST');
    expect(posts).toEqual([{ method: 'POST', url: '/v1/journeys/5/stuck/retry', body: { entry_ids: [11, 13] }, csrf: 'csrf-1' }]);
    const result = host.querySelector('[data-testid="stuck-result"]')!.textContent;
    expect(result).toContain('Retried 1 of 2 selected');
    expect(result).toContain('No longer stuck (already handled), left alone: #13');
    // The list is read again from its first page, and the report's stats through onChanged.
    expect(stuckGets(server)).toHaveLength(2);
    expect(cells().map((c) => c[1])).toEqual(['12']);
    expect(onChanged).toHaveBeenCalledTimes(1);
    // The selection went with the page it was made on.
    expect(button('stuck-retry')!.disabled).toBe(true);
  });

  it("exits the page's entries selected all at once", async () => {
    const server = new FakeServer(['journeys:read', 'journeys:write']);
    await mount(server);
    await click(host.querySelector('thead input[type="checkbox"]'));
    await confirm('stuck-exit');
    await settle(() => host.querySelector('[data-testid="stuck-result"]') !== null && rows().length === 0);
    expect(server.calls.filter((c) => c.method === 'POST').map((c) => [c.url, c.body])).toEqual([['/v1/journeys/5/stuck/exit', { entry_ids: [11, 12, 13] }]]);
    expect(host.querySelector('[data-testid="stuck-result"]')!.textContent).toBe('Exited 3 of 3 selected');
    expect(host.textContent).toContain('No stuck entries');
    expect(host.querySelector('[data-testid="stuck-result"]')!.className).toContain('ant-alert-success');
  });

  it('shows the problem of a refused request', async () => {
    const server = new FakeServer(['journeys:read', 'journeys:write']);
    await mount(server);
    await select(11);
    server.failNext = { status: 400, problem: { status: 400, title: 'Bad Request', detail: 'entry_ids: at most 500 per request', errors: [{ field: 'entry_ids', reason: 'at most 500 per request' }] } };
    await confirm('stuck-retry');
    await settle(() => host.querySelector('[data-testid="stuck-error"]') !== null);
    expect(host.querySelector('[data-testid="stuck-error"]')!.textContent).toBe('entry_ids: at most 500 per request');
    expect(host.querySelector('[data-testid="stuck-result"]')).toBeNull();
    expect(rows()).toHaveLength(3);
  });

  it('offers no selection and no actions without journeys:write', async () => {
    const server = new FakeServer(['journeys:read']);
    await mount(server);
    expect(rows()).toHaveLength(3);
    expect(button('stuck-retry')).toBeNull();
    expect(button('stuck-exit')).toBeNull();
    expect(host.querySelector('tbody input[type="checkbox"]')).toBeNull();
  });
});

describe('entries per step', () => {
  it("lists the definition's steps in order, then steps only the figures name", async () => {
    const stats = { in_step: { push: 4, wait1: 2 }, retrying_in_step: { push: 1 }, stuck_in_step: { push: 2, old: 1 } };
    expect(stepRows(['wait1', 'push', 'done'], stats)).toEqual([
      { step: 'wait1', inStep: 2, retrying: 0, stuck: 0 },
      { step: 'push', inStep: 4, retrying: 1, stuck: 2 },
      { step: 'done', inStep: 0, retrying: 0, stuck: 0 },
      { step: 'old', inStep: 0, retrying: 0, stuck: 1 },
    ]);
    expect(stepRows(['a'], null)).toEqual([{ step: 'a', inStep: 0, retrying: 0, stuck: 0 }]);
    root = createRoot(host);
    await act(async () =>
      root!.render(
        <I18nextProvider i18n={i18n}>
          <StepCounts rows={stepRows(['wait1', 'push'], stats)} />
        </I18nextProvider>,
      ),
    );
    const text = (id: string) => host.querySelector(`[data-testid="${id}"]`)!.textContent;
    expect([text('step-in-push'), text('step-retrying-push'), text('step-stuck-push')]).toEqual(['4', '1', '2']);
    expect(host.textContent).toContain('Waiting to retry');
  });
});
