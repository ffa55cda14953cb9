// The server's own DSL case files (src/segment/testdata/dsl/*.test, run by dsl_test.cc) are the
// oracle: every "parse" case must print the server's canonical text, survive the visual
// builder's round trip unchanged, and every "error" case must be refused at the same column.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DslError, canonical, canonicalNumber, parseRule, printRule } from './dsl';
import { fromRule, toRule } from './tree';

const dir = path.resolve(__dirname, '../../../../src/segment/testdata/dsl');

interface Case {
  kind: string;
  input: string;
  expected: string;
  file: string;
}

function readCases(): Case[] {
  const cases: Case[] = [];
  for (const f of fs.readdirSync(dir).filter((n) => n.endsWith('.test'))) {
    const lines = fs.readFileSync(path.join(dir, f), 'utf8').split('\n');
    let i = 0;
    while (i < lines.length) {
      const kind = lines[i].trim();
      if (kind !== 'parse' && kind !== 'error') {
        i++;
        continue;
      }
      i++;
      const input: string[] = [];
      while (lines[i] !== '----') input.push(lines[i++]);
      i++;
      const expected: string[] = [];
      while (i < lines.length && lines[i] !== '') expected.push(lines[i++]);
      cases.push({ kind, input: input.join('\n'), expected: expected.join('\n'), file: f });
    }
  }
  return cases;
}

const cases = readCases();

describe('server DSL case files', () => {
  it('are found', () => {
    expect(cases.filter((c) => c.kind === 'parse').length).toBeGreaterThanOrEqual(30);
    expect(cases.filter((c) => c.kind === 'error').length).toBeGreaterThanOrEqual(30);
  });
  for (const c of cases.filter((x) => x.kind === 'parse')) {
    it(`${c.file}: ${c.input}`, () => {
      expect(canonical(c.input)).toBe(c.expected);
      // builder round trip: same text
      expect(printRule(toRule(fromRule(parseRule(c.input))))).toBe(c.expected);
      // canonical text is a fixed point
      expect(canonical(c.expected)).toBe(c.expected);
    });
  }
  for (const c of cases.filter((x) => x.kind === 'error')) {
    it(`${c.file} refuses: ${c.input}`, () => {
      const column = Number(/^column (\d+)/.exec(c.expected)![1]);
      let err: unknown = null;
      try {
        parseRule(c.input);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(DslError);
      expect((err as DslError).column).toBe(column);
    });
  }
});

describe('canonicalNumber', () => {
  it('keeps integers, rounds others to 15 digits', () => {
    expect(canonicalNumber('007')).toBe('7');
    expect(canonicalNumber('-0')).toBe('0');
    expect(canonicalNumber('12.50')).toBe('12.5');
    expect(canonicalNumber('0.000001')).toBe('0.000001');
    expect(canonicalNumber('1e5')).toBeNull();
  });
});

describe('builder with conditions being filled in', () => {
  it('leaves incomplete conditions out of the rule', () => {
    const g = fromRule(parseRule('age >= 30 and level in ("gold")'));
    const c0 = g.children[0];
    if (c0.type !== 'cond') throw new Error('cond expected');
    g.children.push({ ...c0, id: 'x', op: 'between', values: [c0.values[0]] });
    expect(printRule(toRule(g))).toBe('age >= 30 and level in ("gold")');
  });
});
