import { describe, expect, it } from 'vitest';
import { canonical } from '../rules/dsl';
import { fromTerms, groupMembersRule, toTerms, type PoolEntry, type Terms } from './terms';

const prize = (id: string) => ({ id, name: id, kind: 'thanks', weight: 1, total_stock: -1 });
const pools: PoolEntry[] = [
  { group: { rule: 'level = "gold"' }, pool: { id: 'gold', name: 'g', prizes: [prize('a')] } },
  { group: { audience_id: 7 }, pool: { id: 'aud', name: 'a', prizes: [prize('a')] } },
  { group: 'default', pool: { id: 'all', name: 'd', prizes: [prize('a')] } },
  { group: { rule: 'age > 30' }, pool: { id: 'late', name: 'l', prizes: [prize('a')] } },
];

describe('groupMembersRule', () => {
  const aud = (id: number) => (id === 7 ? 'has(products, "fund")' : '');
  it('takes the group and leaves out earlier groups', () => {
    expect(canonical(groupMembersRule(pools, 0, 'age >= 18', aud)!)).toBe('age >= 18 and level = "gold"');
    expect(canonical(groupMembersRule(pools, 1, '', aud)!)).toBe('has(products, "fund") and not level = "gold"');
    expect(canonical(groupMembersRule(pools, 2, 'age >= 18', aud)!)).toBe('age >= 18 and not level = "gold" and not has(products, "fund")');
  });
  it('a group after the default catches nobody', () => {
    expect(groupMembersRule(pools, 3, '', aud)).toBeNull();
  });
});

describe('terms <-> wizard values', () => {
  const terms: Terms = {
    name: 'Wheel',
    eligibility: { rule: 'age >= 18', channels: ['app'], start: '2026-12-01T00:00:00+08:00', end: '2026-12-31T00:00:00+08:00' },
    chances: { free_per_day: 1 },
    pools: [{ group: 'default', pool: { id: 'p', name: 'P', prizes: [prize('a'), prize('b')] } }],
    budget_fen: 100,
    tz_offset_minutes: 480,
    display: { template: 'wheel', title: 'Spin', theme: 'default', settings: { spin_ms: 3000 } },
  };
  it('keeps the terms through the form', () => {
    const back = toTerms(fromTerms(terms));
    expect(back.eligibility).toEqual(terms.eligibility);
    expect(back.display).toEqual(terms.display);
    expect(back.pools![0].pool.prizes[0]).toEqual({ ...prize('a'), daily_stock: 0, per_customer_cap: 0, cost_fen: 0, reward_ref: undefined });
  });
  it('drops what the scope and template do not use', () => {
    const v = fromTerms(terms);
    v.eligibility.scope = 'all';
    v.display.template = 'grid9';
    const t = toTerms(v);
    expect(t.eligibility.rule).toBeUndefined();
    expect(t.display.settings).toEqual({});
  });
});

describe('sign-in and quiz settings', () => {
  const base = {
    name: 'x',
    eligibility: { scope: 'all' as const, start: '2026-12-01T00:00:00+08:00', end: '2026-12-31T00:00:00+08:00' },
    chances: {},
  };
  it('keeps only the reward kind chosen and make_up only when switched on', () => {
    const v = {
      ...base,
      ui: { make_up: false },
      display: {
        template: 'sign_in',
        title: 't',
        settings: {
          cycle_days: 7,
          missed_day: 'keeps_count',
          streak_rewards: [
            { day: 1, reward: { kind: 'coupon', amount: 5, template_id: 12 } },
            { day: 3, reward: { kind: 'points', amount: 20, template_id: 12 } },
          ],
          make_up: { per_cycle: 1, points_cost: 20 },
        },
      },
    };
    const t = toTerms(v as never);
    expect(t.display.settings).toEqual({
      cycle_days: 7,
      missed_day: 'keeps_count',
      streak_rewards: [
        { day: 1, reward: { kind: 'coupon', template_id: 12 } },
        { day: 3, reward: { kind: 'points', amount: 20 } },
      ],
    });
    expect(t.pools).toBeUndefined();
    expect(toTerms({ ...v, ui: { make_up: true } } as never).display.settings!.make_up).toEqual({ per_cycle: 1, points_cost: 20 });
  });
  it('quiz reward is cleaned, questions kept', () => {
    const q = [{ text: 'q', type: 'single', options: ['a', 'b'], answers: [1], score: 10 }];
    const t = toTerms({ ...base, display: { template: 'quiz', title: 't', settings: { questions: q, pass_score: 10, attempts_per_day: 2, reward: { kind: 'points', amount: 50, template_id: 3 } } } } as never);
    expect(t.display.settings).toEqual({ questions: q, pass_score: 10, attempts_per_day: 2, reward: { kind: 'points', amount: 50 } });
  });
});
