import { describe, expect, it } from 'vitest';
import { fieldPath, problemFields } from './problem';

describe('fieldPath', () => {
  it('splits members and indexes', () => {
    expect(fieldPath('pools[1].pool.prizes[0].weight')).toEqual(['pools', 1, 'pool', 'prizes', 0, 'weight']);
    expect(fieldPath('eligibility.start')).toEqual(['eligibility', 'start']);
    expect(fieldPath('name')).toEqual(['name']);
  });
});

describe('problemFields', () => {
  // The body the server sends for a bad activity (src/activity/activity.cc "Bad").
  const problem = {
    type: 'about:blank',
    title: 'Bad Request',
    status: 400,
    detail: 'pools[1].pool.prizes[0].weight: must be between 0 and 1000000000',
    errors: [
      { field: 'pools[1].pool.prizes[0].weight', reason: 'must be between 0 and 1000000000' },
      { field: 'display.settings.spin_ms', reason: 'must be between 500 and 10000' },
    ],
  };
  it('maps each error to its form field', () => {
    const { fields, rest } = problemFields(problem);
    expect(fields).toEqual([
      { name: ['pools', 1, 'pool', 'prizes', 0, 'weight'], errors: ['must be between 0 and 1000000000'] },
      { name: ['display', 'settings', 'spin_ms'], errors: ['must be between 500 and 10000'] },
    ]);
    expect(rest).toEqual([]);
  });
  it('keeps errors of fields the form lacks, and problems without errors, for the banner', () => {
    const { fields, rest } = problemFields(problem, (p) => p[0] === 'pools');
    expect(fields.map((f) => f.name[0])).toEqual(['pools']);
    expect(rest).toEqual(['display.settings.spin_ms: must be between 500 and 10000']);
    expect(problemFields({ status: 409, detail: 'activity 3 is submitted' }).rest).toEqual(['activity 3 is submitted']);
  });
  it('lets the form rename paths (the wizard keeps pools under another name)', () => {
    const { fields } = problemFields(problem, () => true, (p) => (p[0] === 'display' ? ['spin_ms'] : p));
    expect(fields[1].name).toEqual(['spin_ms']);
  });
});

import { resolveField } from './problem';

describe('resolveField', () => {
  const values = {
    name: '',
    eligibility: { white_list: ['C1', 'C2'], start: '2026-12-01T00:00:00+08:00' },
    pools: [{ pool: { prizes: [{ weight: 1 }] } }],
  };
  const at = (p: (string | number)[]) => p.reduce<unknown>((o, k) => (o == null ? undefined : (o as Record<string, unknown>)[k]), values);
  it('finds the field, or the list for one of its entries', () => {
    expect(resolveField(['pools', 0, 'pool', 'prizes', 0, 'weight'], at)).toEqual(['pools', 0, 'pool', 'prizes', 0, 'weight']);
    expect(resolveField(['eligibility', 'white_list', 1], at)).toEqual(['eligibility', 'white_list']);
    expect(resolveField(['name'], at)).toEqual(['name']);
  });
  it('gives null for groups and unknown members', () => {
    expect(resolveField(['pools', 0, 'pool', 'prizes'], at)).toBeNull();
    expect(resolveField(['display', 'settings', 'foo'], at)).toBeNull();
  });
});
