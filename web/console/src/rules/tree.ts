// The visual builder's model: AND/OR groups of conditions, each of which may be negated.
// fromRule/toRule convert to and from the DSL's rule (dsl.ts) so that
//   printRule(toRule(fromRule(parseRule(text)))) === canonical(text)
// for every rule the DSL accepts: the builder never changes what a rule means or how it prints.

import { type CompareOp, type Literal, type Rule } from './dsl';

export type CondOp = CompareOp | 'between' | 'in' | 'has' | 'has_all' | 'exists';

export interface Cond {
  type: 'cond';
  id: string;
  field: string;
  op: CondOp;
  values: Literal[]; // compare: 1, between: 2, in/has/has_all: 1+, exists: 0
  not: boolean;
}

export interface Group {
  type: 'group';
  id: string;
  op: 'and' | 'or';
  not: boolean;
  children: Node[];
}

export type Node = Cond | Group;

let seq = 0;
export const newId = () => `n${++seq}`;

export function emptyGroup(op: 'and' | 'or' = 'and'): Group {
  return { type: 'group', id: newId(), op, not: false, children: [] };
}

function leafToCond(r: Rule): Cond | null {
  const base = { type: 'cond' as const, id: newId(), not: false };
  switch (r.kind) {
    case 'compare':
      return { ...base, field: r.field, op: r.op, values: [r.value] };
    case 'between':
      return { ...base, field: r.field, op: 'between', values: [r.low, r.high] };
    case 'in':
      return { ...base, field: r.field, op: 'in', values: r.values };
    case 'has':
      return { ...base, field: r.field, op: r.mode === 'all' ? 'has_all' : 'has', values: r.values };
    case 'exists':
      return { ...base, field: r.field, op: 'exists', values: [] };
    default:
      return null;
  }
}

function negate(n: Node): Node {
  if (!n.not) return { ...n, not: true };
  // Already negated ("not not x"): a negated one-member group keeps both negations.
  return { type: 'group', id: newId(), op: 'and', not: true, children: [n] };
}

function toNode(r: Rule): Node {
  switch (r.kind) {
    case 'all':
      return emptyGroup();
    case 'and':
    case 'or': {
      const children: Node[] = [];
      for (const c of r.children) {
        const n = toNode(c);
        // (a and b) and c prints as a and b and c: the builder shows one group.
        if (n.type === 'group' && !n.not && n.op === r.kind) children.push(...n.children);
        else children.push(n);
      }
      return { type: 'group', id: newId(), op: r.kind, not: false, children };
    }
    case 'not':
      return negate(toNode(r.child));
    default:
      return leafToCond(r)!;
  }
}

// The builder's root is always a group.
export function fromRule(r: Rule): Group {
  const n = toNode(r);
  if (n.type === 'group' && !n.not) return n;
  return { type: 'group', id: newId(), op: 'and', not: false, children: [n] };
}

function condToRule(c: Cond): Rule {
  switch (c.op) {
    case 'between':
      return { kind: 'between', field: c.field, low: c.values[0], high: c.values[1] };
    case 'in':
      return { kind: 'in', field: c.field, values: c.values };
    case 'has':
    case 'has_all':
      return { kind: 'has', field: c.field, mode: c.op === 'has_all' ? 'all' : 'any', values: c.values };
    case 'exists':
      return { kind: 'exists', field: c.field };
    default:
      return { kind: 'compare', field: c.field, op: c.op, value: c.values[0] };
  }
}

// Empty groups and incomplete conditions are left out (they say nothing yet); an empty root
// is "all".
function nodeToRule(n: Node): Rule | null {
  let r: Rule | null;
  if (n.type === 'cond') {
    if (incomplete(n).length > 0) return null; // still being filled in: not part of the rule yet
    r = condToRule(n);
  } else {
    const children = n.children.map(nodeToRule).filter((x): x is Rule => x !== null);
    if (children.length === 0) return null;
    r = children.length === 1 ? children[0] : { kind: n.op, children };
  }
  return n.not ? { kind: 'not', child: r } : r;
}

export function toRule(g: Group): Rule {
  return nodeToRule(g) ?? { kind: 'all' };
}

// Incomplete conditions (no field, missing values) that the builder must not send.
export function incomplete(n: Node): string[] {
  if (n.type === 'group') return n.children.flatMap(incomplete);
  const need = n.op === 'exists' ? 0 : n.op === 'between' ? 2 : 1;
  if (!n.field || n.values.length < need) return [n.id];
  if (n.values.some((v) => v.kind === 'number' && v.text === '')) return [n.id];
  return [];
}
