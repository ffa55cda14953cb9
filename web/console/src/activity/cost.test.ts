import { describe, expect, it } from 'vitest';
import { expectedDraws, forecastPool, guaranteedDraws } from './cost';

describe('forecastPool', () => {
  // 1000 draws; A 10% (stock 50, 500 fen), B 30% (unlimited, 100 fen), T 60% thanks.
  // A is picked 100 times but has 50: 50 wins; the 50 extra picks go to the fallback T.
  const pool = {
    fallback_prize_id: 'T',
    prizes: [
      { id: 'A', kind: 'cash', weight: 1, total_stock: 50, cost_fen: 500 },
      { id: 'B', kind: 'points', weight: 3, total_stock: -1, cost_fen: 100 },
      { id: 'T', kind: 'thanks', weight: 6, total_stock: -1, cost_fen: 0 },
    ],
  };
  it('limits wins by stock and sends the overflow to the fallback', () => {
    const f = forecastPool(pool, 1000);
    expect(f.prizes.map((p) => p.wins)).toEqual([50, 300, 650]);
    expect(f.costFen).toBe(50 * 500 + 300 * 100); // 55000
    expect(f.costPerDrawFen).toBeCloseTo(0.1 * 500 + 0.3 * 100, 10); // 80 fen at full stock
    expect(f.prizes[0].exhaustedAfterDraws).toBe(500);
    expect(f.prizes[1].exhaustedAfterDraws).toBeNull();
    expect(f.winRate).toBeCloseTo(350 / 1000, 10);
  });
  it('daily stock caps wins per day over the days', () => {
    const daily = { prizes: [{ id: 'A', kind: 'cash', weight: 1, total_stock: 1000, daily_stock: 10, cost_fen: 100 }] };
    // 7 days x 10 a day = 70 of the 1000 stock; 500 picks.
    expect(forecastPool(daily, 500, 7).prizes[0].wins).toBe(70);
    expect(forecastPool(daily, 500, 7).costFen).toBe(7000);
  });
  it('without a fallback, out-of-stock picks win nothing', () => {
    const p = { prizes: [{ id: 'A', kind: 'coupon', weight: 1, total_stock: 5, cost_fen: 200 }, { id: 'B', kind: 'thanks', weight: 1, total_stock: -1 }] };
    const f = forecastPool(p, 100);
    expect(f.prizes.map((x) => x.wins)).toEqual([5, 50]);
    expect(f.costFen).toBe(1000);
  });
  it('a fallback with stock of its own stops at that stock', () => {
    const p = {
      fallback_prize_id: 'S',
      prizes: [
        { id: 'A', kind: 'cash', weight: 1, total_stock: 0, cost_fen: 1000 },
        { id: 'S', kind: 'points', weight: 1, total_stock: 30, cost_fen: 10 },
      ],
    };
    // 100 draws: A picked 50 (no stock) -> fallback demand 50 + 50 = 100, stock 30.
    expect(forecastPool(p, 100).prizes.map((x) => x.wins)).toEqual([0, 30]);
  });
});

describe('expectedDraws', () => {
  it('members x participation x draws each', () => {
    expect(expectedDraws(2000, 0.25, 3)).toBe(1500);
    expect(expectedDraws(100, 2, 1)).toBe(100);
  });
});

describe('guarantee (保底)', () => {
  // The oracle: the engine's rule simulated draw by draw (a seeded generator), independent of
  // the streak chain the forecast carries.
  function simulate(draws: number, q: number, after: number, customers: number): number {
    let seed = 12345; // mulberry32
    const rand = () => {
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    let guaranteed = 0;
    for (let c = 0; c < customers; c++) {
      let misses = 0;
      for (let d = 0; d < draws; d++) {
        if (misses >= after) {
          guaranteed++;
          misses = 0;
        } else if (rand() < q) {
          misses = 0;
        } else {
          misses++;
        }
      }
    }
    return guaranteed / customers;
  }
  it('counts guaranteed draws exactly in a case worked by hand', () => {
    // N = 1, q = 0.5, two draws: the second is guaranteed when the first missed (0.5).
    expect(guaranteedDraws(2, 0.5, 1)).toBeCloseTo(0.5, 12);
    // Three draws: P(draw 2 guaranteed) = 0.5; draw 3 is guaranteed when draw 2 was an
    // ordinary miss (0.5 x 0.5) = 0.25; total 0.75.
    expect(guaranteedDraws(3, 0.5, 1)).toBeCloseTo(0.75, 12);
    expect(guaranteedDraws(10, 0.3, 0)).toBe(0);
    expect(guaranteedDraws(3, 0.1, 5)).toBe(0); // never five misses in three draws
  });
  it('agrees with a draw-by-draw simulation of the engine rule', () => {
    for (const [draws, q, after] of [
      [10, 0.2, 3],
      [30, 0.05, 10],
      [7, 0.5, 2],
    ]) {
      expect(guaranteedDraws(draws, q, after)).toBeCloseTo(simulate(draws, q, after, 200000), 2);
    }
  });
  it('moves guaranteed draws from thanks to the winning prizes by their weights', () => {
    const pool = {
      guarantee_after: 1,
      prizes: [
        { id: 'A', kind: 'cash', weight: 1, total_stock: -1, cost_fen: 300 },
        { id: 'T', kind: 'thanks', weight: 1, total_stock: -1, cost_fen: 0 },
      ],
    };
    // 1000 customers x 2 draws; 0.5 of each customer's draws is guaranteed (see above), so
    // 2000 draws = 1500 ordinary (750 A, 750 T) + 500 guaranteed (all A).
    const f = forecastPool(pool, 2000, 1, 2);
    expect(f.prizes[0].wins).toBeCloseTo(1250, 9);
    expect(f.prizes[1].wins).toBeCloseTo(750, 9);
    expect(f.costFen).toBeCloseTo(1250 * 300, 6);
    expect(f.winRate).toBeCloseTo(0.625, 12);
    // Without draws per participant the guarantee is left out.
    expect(forecastPool(pool, 2000).prizes[0].wins).toBe(1000);
  });
});
