// The journey builder's model and preview. The form holds a journey in the shape of its
// definition (docs/journeys.md), so the API's field errors ("steps[1].next", "trigger.rule")
// land on the form's own fields; toDefinition drops what the chosen types do not use (the API
// rejects unknown members). The preview asks POST /v1/journeys/preview whom the trigger would
// admit, lays the steps out as the path a customer follows, and renders each send step's
// message for one sample member with /v1/templates/{id}/preview ({{name}} masked). Nothing is
// sent or saved.

import { parseVariables, type Requester } from '../campaign/preview';

export type { Requester };

export type TriggerType = 'audience' | 'date' | 'event' | 'lifecycle';
export type StepType = 'wait' | 'branch' | 'action';
export type ActionType = 'send' | 'points' | 'task';

export interface StepValues {
  id: string;
  type: StepType;
  next?: string;
  duration?: string; // wait
  on?: 'rule' | 'event'; // branch: what it tests (form only)
  rule?: string;
  event?: string;
  within?: string;
  then?: string;
  else?: string;
  action?: ActionType;
  channel?: string; // send
  template_id?: string;
  purpose?: string;
  variables_text?: string; // send: name=value lines (form only)
  points?: number;
  title?: string; // task
}

export interface JourneyValues {
  name: string;
  trigger: { type: TriggerType; rule?: string; tag?: string; offset_days?: number; at?: string; annual?: boolean; event?: string; from?: string; to?: string };
  steps: StepValues[];
  goal?: { event?: string; within?: string };
  reentry?: { policy: 'once' | 'after'; days?: number };
  holdout_percent?: number;
}

type Json = Record<string, unknown>;

function put(o: Json, key: string, v: unknown) {
  if (v !== undefined && v !== null && v !== '') o[key] = v;
}

export function toDefinition(v: JourneyValues): Json {
  const t = v.trigger ?? { type: 'event' };
  const trigger: Json = { type: t.type };
  if (t.type === 'audience') put(trigger, 'rule', t.rule ?? '');
  if (t.type === 'date') {
    put(trigger, 'tag', t.tag);
    put(trigger, 'offset_days', t.offset_days);
    put(trigger, 'at', t.at);
    if (t.annual) trigger.annual = true;
  }
  if (t.type === 'event') put(trigger, 'event', t.event);
  if (t.type === 'lifecycle') {
    put(trigger, 'from', t.from);
    put(trigger, 'to', t.to);
  }
  const steps = (v.steps ?? []).map((s) => {
    const o: Json = { id: s.id, type: s.type };
    if (s.type === 'wait') {
      put(o, 'duration', s.duration);
      put(o, 'next', s.next);
    } else if (s.type === 'branch') {
      if ((s.on ?? 'rule') === 'rule') put(o, 'rule', s.rule ?? '');
      else {
        put(o, 'event', s.event);
        put(o, 'within', s.within);
      }
      put(o, 'then', s.then);
      put(o, 'else', s.else);
    } else {
      o.action = s.action ?? 'send';
      if (o.action === 'send') {
        put(o, 'channel', s.channel);
        put(o, 'template_id', s.template_id);
        put(o, 'purpose', s.purpose);
        const vars = parseVariables(s.variables_text ?? '');
        if (Object.keys(vars).length) o.variables = vars;
      } else if (o.action === 'points') {
        put(o, 'points', s.points);
      } else {
        put(o, 'title', s.title);
      }
      put(o, 'next', s.next);
    }
    return o;
  });
  const def: Json = { name: v.name ?? '', trigger, steps };
  if (v.goal?.event) def.goal = { event: v.goal.event, within: v.goal.within ?? '' };
  if (v.reentry?.policy === 'after') def.reentry = { policy: 'after', days: v.reentry.days };
  put(def, 'holdout_percent', v.holdout_percent);
  return def;
}

// One line of the path a customer follows: `arm` is the branch outcome that leads here,
// `goto` a step already shown (a join), `end` where the path ends.
export interface FlowLine {
  depth: number;
  arm?: 'then' | 'else';
  step?: Json; // the step's definition
  goto?: string;
  end?: boolean;
  missing?: string; // a reference to no step (the API names it on save)
}

export function flowOf(def: Json): FlowLine[] {
  const steps = (def.steps as Json[] | undefined) ?? [];
  const byId = new Map(steps.map((s) => [String(s.id), s]));
  const start = String(def.start ?? steps[0]?.id ?? '');
  const seen = new Set<string>();
  const out: FlowLine[] = [];
  const walk = (id: string | undefined, depth: number, arm?: 'then' | 'else') => {
    for (let first = true; ; first = false) {
      const a = first ? arm : undefined;
      if (!id) {
        out.push({ depth, arm: a, end: true });
        return;
      }
      const s = byId.get(id);
      if (!s) {
        out.push({ depth, arm: a, missing: id });
        return;
      }
      if (seen.has(id)) {
        out.push({ depth, arm: a, goto: id });
        return;
      }
      seen.add(id);
      out.push({ depth, arm: a, step: s });
      if (s.type === 'branch') {
        walk((s.then as string | undefined) || undefined, depth + 1, 'then');
        walk((s.else as string | undefined) || undefined, depth + 1, 'else');
        return;
      }
      id = (s.next as string | undefined) || undefined;
    }
  };
  if (steps.length) walk(start, 0);
  return out;
}

export interface TriggerEstimate {
  type: TriggerType;
  matching_now?: number | null;
  window_days?: number;
  days?: { date: string; entering: number }[];
  entering_in_window?: number;
  last_7d?: number | null;
  last_30d?: number | null;
  property_conditions_applied?: boolean;
  at_from_stage?: number | null;
}

export interface SendPreview {
  stepId: string;
  channel: string;
  templateId?: string;
  body?: string;
  length?: number;
  segments?: number;
  error?: string;
}

export interface JourneyPreview {
  trigger: TriggerEstimate;
  // Customers the trigger would admit by the estimate that fits its type (null: the type has
  // no such figure, e.g. an audience trigger admits only those who come to match later).
  admitted: number | null;
  holdoutPercent: number;
  heldOut: number | null; // expected
  treated: number | null;
  sample: string | null;
  flow: FlowLine[];
  sends: SendPreview[];
}

export function admittedOf(t: TriggerEstimate): number | null {
  switch (t.type) {
    case 'date':
      return t.entering_in_window ?? null;
    case 'event':
      return t.last_30d ?? null;
    case 'lifecycle':
      return t.at_from_stage ?? null;
    default:
      return null;
  }
}

export async function previewJourney(req: Requester, def: Json, windowDays = 7): Promise<JourneyPreview> {
  const p = await req<{ trigger: TriggerEstimate; holdout_percent: number; sample: string | null }>('POST', '/v1/journeys/preview', {
    definition: def,
    window_days: windowDays,
  });
  const admitted = admittedOf(p.trigger);
  const holdout = p.holdout_percent ?? 0;
  const heldOut = admitted === null ? null : Math.round((admitted * holdout) / 100);
  const flow = flowOf(def);
  const sends: SendPreview[] = [];
  for (const line of flow) {
    const s = line.step;
    if (!s || s.type !== 'action' || s.action !== 'send') continue;
    const send: SendPreview = { stepId: String(s.id), channel: String(s.channel ?? ''), templateId: s.template_id as string | undefined };
    if (!send.templateId) {
      send.error = 'template_id';
    } else if (p.sample) {
      try {
        const r = await req<{ body: string; length: number; segments?: number }>('POST', `/v1/templates/${send.templateId}/preview`, {
          customer: p.sample,
          variables: (s.variables as Record<string, string> | undefined) ?? {},
        });
        send.body = r.body;
        send.length = r.length;
        send.segments = r.segments;
      } catch (e) {
        send.error = e instanceof Error ? e.message : String(e);
      }
    }
    sends.push(send);
  }
  return {
    trigger: p.trigger,
    admitted,
    holdoutPercent: holdout,
    heldOut,
    treated: admitted === null || heldOut === null ? null : admitted - heldOut,
    sample: p.sample ?? null,
    flow,
    sends,
  };
}

// The leaf paths of an antd onValuesChange "changed" object ({steps: [<hole>, {duration}]} ->
// [["steps", 1, "duration"]]): the fields whose shown API error the edit makes stale.
export function changedPaths(changed: unknown, prefix: (string | number)[] = []): (string | number)[][] {
  if (Array.isArray(changed)) {
    const out: (string | number)[][] = [];
    changed.forEach((v, i) => out.push(...changedPaths(v, [...prefix, i])));
    return out;
  }
  if (changed && typeof changed === 'object' && !(changed as { isValid?: unknown }).isValid) {
    return Object.entries(changed).flatMap(([k, v]) => changedPaths(v, [...prefix, k]));
  }
  return prefix.length ? [prefix] : [];
}
