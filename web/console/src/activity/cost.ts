// Expected prize cost of an activity, from its pools and a forecast of draws.
//
// It follows the draw engine (src/activity/draw_engine.cc): every draw picks a prize with
// probability weight / (sum of the pool's weights), whatever the stock; a pick of a prize that
// is out of stock (total, or today's daily stock) gives the pool's fallback prize if that one
// still has stock, else nothing. The forecast is the expected value of that process with the
// draws spread evenly over the days (a fluid model): prize i is picked draws * p_i times and
// won at most min(total_stock, days * daily_stock) times; the overflow goes to the fallback,
// which is itself limited by its stock.
//
// Guarantee (保底, guarantee_after = N): a customer's draw after N draws in a row that won
// nothing is a pick among the winning prizes by their weights. It depends on how many draws
// each customer makes, so the forecast takes draws per participant: the expected number of
// guaranteed draws per participant comes from the chain of miss streaks (guaranteedDraws);
// those draws pick winning prizes only, the others pick with the configured odds.

export interface PrizeInput {
  id: string;
  name?: string;
  kind: string;
  weight: number;
  total_stock: number; // -1: unlimited
  daily_stock?: number; // 0: no daily limit
  cost_fen?: number;
}

export interface PoolInput {
  prizes: PrizeInput[];
  fallback_prize_id?: string;
  guarantee_after?: number; // 0: none
}

export interface PrizeForecast {
  id: string;
  probability: number; // configured odds of a pick
  picks: number; // expected picks in `draws`
  wins: number; // expected awards (including fallback awards)
  costFen: number; // wins * cost_fen
  exhaustedAfterDraws: number | null; // draws after which its stock runs out (null: never)
}

export interface PoolForecast {
  draws: number;
  prizes: PrizeForecast[];
  costFen: number;
  costPerDrawFen: number; // at full stock: sum p_i * cost_i
  winRate: number; // expected share of draws that win something other than thanks
}

function cap(p: PrizeInput, days: number): number {
  let c = p.total_stock < 0 ? Infinity : p.total_stock;
  if (p.daily_stock && p.daily_stock > 0) c = Math.min(c, p.daily_stock * Math.max(1, days));
  return c;
}

// Expected guaranteed draws of one customer making `draws` draws (a fraction interpolates
// between whole numbers) when each ordinary draw wins with probability `winProbability` and
// the draw after `after` misses in a row is guaranteed. Exact: the distribution of the miss
// streak is carried draw by draw.
export function guaranteedDraws(draws: number, winProbability: number, after: number): number {
  if (!(after > 0) || !(draws > 0)) return 0;
  const n = Math.floor(after);
  const q = Math.min(1, Math.max(0, winProbability));
  let streak = new Array<number>(n + 1).fill(0);
  streak[0] = 1;
  const upTo: number[] = [0]; // upTo[d]: expected guaranteed draws in the first d draws
  const whole = Math.floor(draws);
  for (let d = 0; d <= whole; d++) {
    const next = new Array<number>(n + 1).fill(0);
    const guaranteed = streak[n];
    next[0] += guaranteed;
    for (let s = 0; s < n; s++) {
      next[0] += streak[s] * q;
      next[s + 1] += streak[s] * (1 - q);
    }
    streak = next;
    upTo.push(upTo[d] + guaranteed);
  }
  const frac = draws - whole;
  return upTo[whole] + frac * (upTo[whole + 1] - upTo[whole]);
}

// `drawsPerParticipant` matters only with a guarantee (0: not known, the guarantee is left out).
export function forecastPool(pool: PoolInput, draws: number, days = 1, drawsPerParticipant = 0): PoolForecast {
  const total = pool.prizes.reduce((s, p) => s + Math.max(0, p.weight), 0);
  const prob = (p: PrizeInput) => (total > 0 ? Math.max(0, p.weight) / total : 0);
  const winning = pool.prizes.filter((p) => p.kind !== 'thanks');
  const winTotal = winning.reduce((s, p) => s + Math.max(0, p.weight), 0);
  // The share of draws that are guaranteed, and the odds of a guaranteed pick.
  let guaranteedShare = 0;
  if ((pool.guarantee_after ?? 0) > 0 && drawsPerParticipant > 0 && winTotal > 0) {
    const q = winTotal / total;
    guaranteedShare = guaranteedDraws(drawsPerParticipant, q, pool.guarantee_after ?? 0) / drawsPerParticipant;
  }
  const pickProb = (p: PrizeInput) =>
    (1 - guaranteedShare) * prob(p) + (p.kind !== 'thanks' && winTotal > 0 ? (guaranteedShare * Math.max(0, p.weight)) / winTotal : 0);
  const fallback = pool.prizes.find((p) => p.id && p.id === pool.fallback_prize_id);
  let overflow = 0;
  const out: PrizeForecast[] = pool.prizes.map((p) => {
    const picks = draws * pickProb(p);
    const limit = cap(p, days);
    const direct = Math.min(picks, limit);
    if (p !== fallback) overflow += picks - direct;
    return {
      id: p.id,
      probability: prob(p),
      picks,
      wins: direct,
      costFen: 0,
      exhaustedAfterDraws: Number.isFinite(limit) && pickProb(p) > 0 ? limit / pickProb(p) : null,
    };
  });
  if (fallback) {
    const i = pool.prizes.indexOf(fallback);
    out[i].wins = Math.min(out[i].picks + overflow, cap(fallback, days));
  }
  let cost = 0;
  let wins = 0;
  pool.prizes.forEach((p, i) => {
    out[i].costFen = out[i].wins * (p.cost_fen ?? 0);
    cost += out[i].costFen;
    if (p.kind !== 'thanks') wins += out[i].wins;
  });
  const perDraw = pool.prizes.reduce((s, p) => s + prob(p) * (p.cost_fen ?? 0), 0);
  return { draws, prizes: out, costFen: cost, costPerDrawFen: perDraw, winRate: draws > 0 ? wins / draws : 0 };
}

// Draws a group of `members` customers makes: members * participation * draws per participant.
export function expectedDraws(members: number, participation: number, drawsPerParticipant: number): number {
  return Math.max(0, members) * Math.min(1, Math.max(0, participation)) * Math.max(0, drawsPerParticipant);
}

export function formatYuan(fen: number): string {
  return (fen / 100).toLocaleString('zh-CN', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
}
