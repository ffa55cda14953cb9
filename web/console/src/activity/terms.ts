// The activity terms JSON (POST /v1/activities; parsed by src/activity/activity.cc) and the
// wizard's form values, which keep the same member paths so that the API's error paths
// ("pools[1].pool.prizes[0].weight") land on the right field.

export const DRAW_TEMPLATES = ['wheel', 'grid9', 'golden_egg', 'blind_box', 'scratch_card'] as const;
export const TEMPLATES = [...DRAW_TEMPLATES, 'sign_in', 'quiz'] as const;
export type Template = (typeof TEMPLATES)[number];
export const CHANNELS = ['app', 'h5', 'wechat_oa', 'wecom', 'branch'] as const;
export const PRIZE_KINDS = ['points', 'coupon', 'benefit', 'physical', 'cash', 'thanks'] as const;

// Prizes a template shows (activity.cc PoolsSized).
export const PRIZE_RANGE: Record<string, [number, number]> = {
  wheel: [2, 12],
  grid9: [1, 8],
  golden_egg: [1, 32],
  blind_box: [1, 32],
  scratch_card: [1, 32],
};

export interface Prize {
  id: string;
  name: string;
  kind: string;
  weight: number;
  total_stock: number;
  daily_stock?: number;
  per_customer_cap?: number;
  cost_fen?: number;
  reward_ref?: string;
}

export type PoolGroup = 'default' | { audience_id: number } | { rule: string };

export interface PoolEntry {
  group: PoolGroup;
  pool: { id: string; name: string; prizes: Prize[]; fallback_prize_id?: string; guarantee_after?: number };
}

export interface Terms {
  name: string;
  description?: string;
  eligibility: {
    audience_id?: number;
    rule?: string;
    white_list?: string[];
    black_list?: string[];
    channels?: string[];
    start: string;
    end: string;
  };
  chances?: { free_per_day?: number; points_cost?: number; max_per_day?: number; max_total?: number };
  pools?: PoolEntry[];
  budget_fen?: number;
  tz_offset_minutes?: number;
  display: { template: string; title: string; theme?: string; settings?: Record<string, unknown> };
}

export interface WizardValues extends Omit<Terms, 'eligibility'> {
  eligibility: Terms['eligibility'] & { scope: 'all' | 'audience' | 'rule' };
  ui?: { make_up?: boolean }; // form-only switches, never sent
}

// A sign-in or quiz reward (src/activity/reward_spec.h) with only its kind's members: the
// form keeps the other kind's fields when the operator switches, the server refuses them.
export interface Reward {
  kind: 'points' | 'coupon';
  amount?: number;
  validity_days?: number;
  template_id?: number;
}

export function cleanReward(r: Reward | undefined): Reward | undefined {
  if (!r) return r;
  if (r.kind === 'coupon') return { kind: 'coupon', template_id: r.template_id };
  const out: Reward = { kind: 'points', amount: r.amount };
  if (r.validity_days) out.validity_days = r.validity_days;
  return out;
}

// The settings members each draw template accepts.
const SETTINGS_KEYS: Record<string, string[]> = {
  wheel: ['spin_ms'],
  grid9: [],
  golden_egg: ['eggs'],
  blind_box: ['boxes'],
  scratch_card: ['cover_text'],
};

export function toTerms(v: WizardValues): Terms {
  const { scope, audience_id, rule, ...elig } = v.eligibility;
  const eligibility: Terms['eligibility'] = { ...elig };
  if (scope === 'audience' && audience_id) eligibility.audience_id = audience_id;
  if (scope === 'rule') eligibility.rule = rule ?? '';
  for (const k of ['white_list', 'black_list'] as const) {
    if (!eligibility[k]?.length) delete eligibility[k];
  }
  const template = v.display.template;
  let settings: Record<string, unknown> = {};
  const src = v.display.settings ?? {};
  if (template in SETTINGS_KEYS) {
    for (const k of SETTINGS_KEYS[template]) {
      if (src[k] !== undefined && src[k] !== null && src[k] !== '') settings[k] = src[k];
    }
  } else if (template === 'sign_in') {
    settings = { cycle_days: src.cycle_days, missed_day: src.missed_day };
    settings.streak_rewards = ((src.streak_rewards as { day: number; reward: Reward }[] | undefined) ?? []).map((r) => ({ day: r.day, reward: cleanReward(r.reward) }));
    if (v.ui?.make_up && src.make_up) settings.make_up = src.make_up;
  } else if (template === 'quiz') {
    settings = { ...src, reward: cleanReward(src.reward as Reward) };
  } else {
    Object.assign(settings, src);
  }
  const terms: Terms = {
    name: v.name,
    eligibility,
    chances: v.chances,
    budget_fen: v.budget_fen ?? 0,
    tz_offset_minutes: v.tz_offset_minutes ?? 480,
    display: { template, title: v.display.title, theme: v.display.theme || 'default', settings },
  };
  if (v.description) terms.description = v.description;
  if (template in SETTINGS_KEYS) {
    terms.pools = (v.pools ?? []).map((p) => ({
      group: p.group,
      pool: {
        ...p.pool,
        fallback_prize_id: p.pool.fallback_prize_id || undefined,
        prizes: p.pool.prizes.map((x) => ({ ...x, reward_ref: x.reward_ref || undefined })),
      },
    }));
  }
  return terms;
}

export function fromTerms(t: Terms): WizardValues {
  const e = t.eligibility;
  const scope = e.audience_id ? 'audience' : e.rule ? 'rule' : 'all';
  return {
    ...t,
    eligibility: { ...e, white_list: e.white_list ?? [], black_list: e.black_list ?? [], scope },
    pools: (t.pools ?? []).map((p) => ({
      group: p.group,
      pool: {
        ...p.pool,
        fallback_prize_id: p.pool.fallback_prize_id ?? '',
        guarantee_after: p.pool.guarantee_after ?? 0,
        prizes: p.pool.prizes.map((x) => ({ daily_stock: 0, per_customer_cap: 0, cost_fen: 0, reward_ref: '', ...x })),
      },
    })),
    display: { ...t.display, settings: t.display.settings ?? {} },
    ui: { make_up: !!t.display.settings?.make_up },
  };
}

// The DSL of the customers a pool's group catches, given the groups before it (the first
// matching group wins) and the activity's eligibility rule. Audience groups need their rule:
// `audienceRule` resolves it. Null when an earlier default group leaves it nobody; "" is
// every customer.
export function groupMembersRule(pools: PoolEntry[], index: number, eligibility: string, audienceRule: (id: number) => string): string | null {
  const text = (g: PoolGroup): string | null => {
    if (g === 'default') return null;
    if ('rule' in g) return g.rule;
    return audienceRule(g.audience_id);
  };
  const parts: string[] = [];
  if (eligibility.trim()) parts.push(`(${eligibility})`);
  const own = text(pools[index].group);
  if (own !== null) parts.push(`(${own})`);
  for (let j = 0; j < index; j++) {
    const before = text(pools[j].group);
    if (before === null) return null;
    parts.push(`not (${before})`);
  }
  return parts.join(' and ');
}
