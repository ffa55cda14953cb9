// The journey builder's model and preview against a requester that answers like the server:
// the recorded calls are the oracle of what the preview asks; the figures are worked by hand.
import { describe, expect, it } from 'vitest';
import { admittedOf, changedPaths, flowOf, previewJourney, toDefinition, type JourneyValues, type Requester } from './preview';

const values: JourneyValues = {
  name: '定期到期提醒',
  trigger: { type: 'date', tag: 'deposit_maturity', offset_days: -7, at: '09:00', rule: 'stale', event: 'stale' },
  steps: [
    { id: 'remind', type: 'action', action: 'send', channel: 'sms', template_id: '12', purpose: 'marketing', variables_text: 'product=三年定期', next: 'wait', points: 5 },
    { id: 'wait', type: 'wait', duration: '3d', next: 'renewed', rule: 'stale' },
    { id: 'renewed', type: 'branch', on: 'event', event: 'deposit_open', within: '3d', rule: 'stale', then: '', else: 'push' },
    { id: 'push', type: 'action', action: 'send', channel: 'app_push', next: 'call' },
    { id: 'call', type: 'action', action: 'task', title: '请联系续存', channel: 'sms' },
  ],
  goal: { event: 'deposit_open', within: '14d' },
  reentry: { policy: 'once' },
  holdout_percent: 10,
};

describe('toDefinition', () => {
  it('keeps only the members of each chosen type', () => {
    expect(toDefinition(values)).toEqual({
      name: '定期到期提醒',
      trigger: { type: 'date', tag: 'deposit_maturity', offset_days: -7, at: '09:00' },
      steps: [
        { id: 'remind', type: 'action', action: 'send', channel: 'sms', template_id: '12', purpose: 'marketing', variables: { product: '三年定期' }, next: 'wait' },
        { id: 'wait', type: 'wait', duration: '3d', next: 'renewed' },
        { id: 'renewed', type: 'branch', event: 'deposit_open', within: '3d', else: 'push' },
        { id: 'push', type: 'action', action: 'send', channel: 'app_push', next: 'call' },
        { id: 'call', type: 'action', action: 'task', title: '请联系续存' },
      ],
      goal: { event: 'deposit_open', within: '14d' },
      holdout_percent: 10,
    });
  });
  it('names the bad variables line', () => {
    const bad = { ...values, steps: [{ id: 's', type: 'action' as const, action: 'send' as const, variables_text: 'oops' }] };
    expect(() => toDefinition(bad)).toThrow('line 1');
  });
});

describe('flowOf', () => {
  it('lays the steps out as the path a customer follows, branches indented', () => {
    const f = flowOf(toDefinition(values));
    expect(f.map((l) => [l.depth, l.arm ?? '', l.step ? String(l.step.id) : l.end ? 'END' : `goto ${l.goto}`])).toEqual([
      [0, '', 'remind'],
      [0, '', 'wait'],
      [0, '', 'renewed'],
      [1, 'then', 'END'],
      [1, 'else', 'push'],
      [1, '', 'call'],
      [1, '', 'END'],
    ]);
  });
  it('shows a join once and a missing step by name', () => {
    const f = flowOf({
      steps: [
        { id: 'b', type: 'branch', rule: 'x', then: 'a', else: 'a' },
        { id: 'a', type: 'wait', duration: '1d', next: 'zz' },
      ],
    });
    expect(f).toEqual([
      { depth: 0, step: expect.objectContaining({ id: 'b' }) },
      { depth: 1, arm: 'then', step: expect.objectContaining({ id: 'a' }) },
      { depth: 1, missing: 'zz' },
      { depth: 1, arm: 'else', goto: 'a' },
    ]);
  });
});

function server(calls: { method: string; path: string; body: unknown }[], trigger: Record<string, unknown>, sample: string | null = 'C0042'): Requester {
  return async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    calls.push({ method, path, body });
    if (path === '/v1/journeys/preview') return { name: 'x', trigger, holdout_percent: 10, sample } as T;
    if (path === '/v1/templates/12/preview') {
      const vars = (body as { variables: Record<string, string> }).variables;
      const text = `【示例银行】张*您好，您的${vars.product}将于7天后到期，回T退订`;
      return { body: text, length: [...text].length, segments: 1 } as T;
    }
    throw new Error(`unexpected ${path}`);
  };
}

describe('previewJourney', () => {
  it('estimates the date window with the holdout split and renders each send step for the sample', async () => {
    const calls: { method: string; path: string; body: unknown }[] = [];
    const def = toDefinition(values);
    const p = await previewJourney(
      server(calls, { type: 'date', window_days: 7, days: [{ date: '2026-11-24', entering: 30 }, { date: '2026-11-25', entering: 25 }], entering_in_window: 55 }),
      def,
      7,
    );
    expect(p.admitted).toBe(55);
    expect(p.heldOut).toBe(6); // 5.5 rounds up
    expect(p.treated).toBe(49);
    expect(p.sample).toBe('C0042');
    expect(calls.map((c) => c.path)).toEqual(['/v1/journeys/preview', '/v1/templates/12/preview']);
    expect(calls[0].body).toEqual({ definition: def, window_days: 7 });
    expect(calls[1].body).toEqual({ customer: 'C0042', variables: { product: '三年定期' } });
    expect(p.sends).toEqual([
      { stepId: 'remind', channel: 'sms', templateId: '12', body: '【示例银行】张*您好，您的三年定期将于7天后到期，回T退订', length: 29, segments: 1 },
      { stepId: 'push', channel: 'app_push', templateId: undefined, error: 'template_id' },
    ]);
  });
  it('renders nothing without a sample member and has no admitted figure for an audience trigger', async () => {
    const calls: { method: string; path: string; body: unknown }[] = [];
    const p = await previewJourney(server(calls, { type: 'audience', matching_now: 120 }, null), toDefinition(values));
    expect(p.admitted).toBeNull();
    expect(p.treated).toBeNull();
    expect(p.sends[0].body).toBeUndefined();
    expect(calls).toHaveLength(1);
  });
  it('uses the 30-day figure for an event trigger and the stage count for a lifecycle one', () => {
    expect(admittedOf({ type: 'event', last_7d: 3, last_30d: 9 })).toBe(9);
    expect(admittedOf({ type: 'lifecycle', at_from_stage: 4 })).toBe(4);
    expect(admittedOf({ type: 'lifecycle', at_from_stage: null })).toBeNull();
  });
});

describe('changedPaths', () => {
  it('names the edited leaves, skipping the holes of a list', () => {
    // eslint-disable-next-line no-sparse-arrays
    expect(changedPaths({ steps: [, { duration: '3d' }], trigger: { type: 'date' } })).toEqual([
      ['steps', 1, 'duration'],
      ['trigger', 'type'],
    ]);
    expect(changedPaths({ name: 'x' })).toEqual([['name']]);
  });
});
