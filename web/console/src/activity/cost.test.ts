import { describe, expect, it } from 'vitest';
import { expectedDraws, forecastPool } from './cost';

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
