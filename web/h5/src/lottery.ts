// Lottery templates: wheel and 9-grid (lucky-canvas), golden egg, blind box, scratch card
// (scratchcard-js). Each starts its animation, asks the server to draw, and ends on the prize
// the server returned.
import { LuckyGrid, LuckyWheel } from 'lucky-canvas';
import { ScratchCard, SCRATCH_TYPE } from 'scratchcard-js';
import { newKey } from './api';
import { escapeHtml, h, sleep } from './dom';
import type { PageContext } from './main';
import { fillSlots, GRID_RING, slotOf } from './prizes';
import type { DrawResult } from './prizes';

const COLORS = ['#fff3d6', '#ffd9a0'];

/** One draw for the page: a new Idempotency-Key per spin. Errors become friendly states. */
async function draw(ctx: PageContext): Promise<DrawResult | null> {
  try {
    const r = await ctx.api.post<DrawResult>(`/v1/h5/activities/${ctx.status.id}/draw`, {}, newKey());
    return r;
  } catch (e) {
    ctx.showState(ctx.problemState(e));
    return null;
  } finally {
    void ctx.refresh().catch(() => undefined);
  }
}

function drawButton(text: string, onClick: () => void): HTMLButtonElement {
  return h('button', { class: 'btn btn-draw', 'data-testid': 'draw', onclick: onClick }, text) as HTMLButtonElement;
}

function mountWheel(body: HTMLElement, ctx: PageContext): void {
  const slots = ctx.status.prizes;
  const el = h('div', { id: 'wheel', class: 'lucky', 'data-testid': 'wheel' });
  let busy = false;
  let pending: DrawResult | null = null;
  const spinMs = Number(ctx.status.settings?.spin_ms ?? 2500);
  const button = drawButton('开始抽奖', () => void spin());
  body.append(el, button);
  const wheel = new LuckyWheel(
    { el: '#wheel' },
    {
      width: '300px',
      height: '300px',
      blocks: [{ padding: '12px', background: '#e8473f' }],
      prizes: slots.map((p, i) => ({
        background: COLORS[i % 2],
        fonts: [{ text: p.name, top: '18%', fontSize: '13px', fontColor: '#a0410d', wordWrap: true, lengthLimit: '70%' }],
      })),
      buttons: [
        { radius: '40%', background: '#f9b72d' },
        { radius: '32%', background: '#e8473f', pointer: true, fonts: [{ text: '抽奖', top: '-10px', fontColor: '#fff', fontSize: '16px' }] },
      ],
      defaultConfig: { accelerationTime: 800, decelerationTime: Math.max(800, spinMs - 800) },
      start: () => void spin(),
      end: () => finish(),
    },
  );
  const finish = () => {
    busy = false;
    button.disabled = false;
    if (pending) ctx.showResult(pending);
    pending = null;
  };
  async function spin(): Promise<void> {
    if (busy) return;
    busy = true;
    button.disabled = true;
    wheel.play();
    const r = await draw(ctx);
    if (!r) {
      wheel.stop(-1);
      busy = false;
      button.disabled = false;
      return;
    }
    pending = r;
    const index = slotOf(slots, r);
    if (index < 0) {
      wheel.stop(-1);
      finish();
    } else {
      await sleep(600);
      wheel.stop(index);
    }
  }
}

function mountGrid(body: HTMLElement, ctx: PageContext): void {
  const slots = fillSlots(ctx.status.prizes, GRID_RING.length);
  const el = h('div', { id: 'grid', class: 'lucky', 'data-testid': 'grid' });
  let busy = false;
  let pending: DrawResult | null = null;
  const button = drawButton('开始抽奖', () => void spin());
  body.append(el, button);
  const grid = new LuckyGrid(
    { el: '#grid' },
    {
      width: '300px',
      height: '300px',
      rows: 3,
      cols: 3,
      blocks: [{ padding: '10px', background: '#e8473f', borderRadius: 12 }],
      prizes: slots.map((p, i) => ({
        ...GRID_RING[i],
        background: '#fff3d6',
        borderRadius: 8,
        fonts: [{ text: p.name, top: '35%', fontSize: '13px', fontColor: '#a0410d', wordWrap: true, lengthLimit: '85%' }],
      })),
      buttons: [{ x: 1, y: 1, background: '#f9b72d', borderRadius: 8, fonts: [{ text: '抽奖', top: '38%', fontColor: '#fff', fontSize: '16px' }] }],
      activeStyle: { background: '#ffd24d' },
      start: () => void spin(),
      end: () => {
        busy = false;
        button.disabled = false;
        if (pending) ctx.showResult(pending);
        pending = null;
      },
    },
  );
  async function spin(): Promise<void> {
    if (busy) return;
    busy = true;
    button.disabled = true;
    grid.play();
    const r = await draw(ctx);
    if (!r) {
      grid.stop(-1);
      busy = false;
      button.disabled = false;
      return;
    }
    pending = r;
    const index = slotOf(slots, r);
    await sleep(600);
    if (index < 0) {
      grid.stop(-1);
      busy = false;
      button.disabled = false;
      ctx.showResult(r);
      pending = null;
    } else {
      grid.stop(index);
    }
  }
}

/** Golden eggs or blind boxes: tap one, it shakes while the server draws, then opens. */
function mountPick(body: HTMLElement, ctx: PageContext, kind: 'egg' | 'box'): void {
  const n = Number(ctx.status.settings?.[kind === 'egg' ? 'eggs' : 'boxes'] ?? (kind === 'egg' ? 3 : 6));
  let busy = false;
  const field = h('div', { class: `pick pick-${kind}`, 'data-testid': kind === 'egg' ? 'eggs' : 'boxes' });
  for (let i = 0; i < n; i++) {
    const item = h(
      'button',
      { class: `pick-item ${kind}`, 'data-testid': `${kind}-${i}`, 'aria-label': kind === 'egg' ? `金蛋 ${i + 1}` : `盲盒 ${i + 1}` },
      kind === 'egg' ? '🥚' : '🎁',
    );
    item.addEventListener('click', () => void pick(item));
    field.append(item);
  }
  body.append(h('p', { class: 'hint' }, kind === 'egg' ? '点击任意金蛋，砸开好礼' : '挑选一个盲盒，拆开惊喜'), field);
  async function pick(item: HTMLElement): Promise<void> {
    if (busy || item.classList.contains('opened')) return;
    busy = true;
    item.classList.add('shaking');
    const [r] = await Promise.all([draw(ctx), sleep(900)]);
    item.classList.remove('shaking');
    busy = false;
    if (!r) return;
    item.classList.add('opened');
    item.textContent = kind === 'egg' ? '🐣' : '✨';
    ctx.showResult(r);
  }
}

/** A grey cover with a text, as an image for scratchcard-js. */
function coverImage(text: string, w: number, hgt: number): string {
  const c = document.createElement('canvas');
  c.width = w;
  c.height = hgt;
  const g = c.getContext('2d');
  if (!g) return '';
  g.fillStyle = '#b9b9b9';
  g.fillRect(0, 0, w, hgt);
  g.fillStyle = '#777';
  g.font = '18px sans-serif';
  g.textAlign = 'center';
  g.textBaseline = 'middle';
  g.fillText(text, w / 2, hgt / 2);
  return c.toDataURL('image/png');
}

function mountScratch(body: HTMLElement, ctx: PageContext): void {
  const w = 300;
  const hgt = 150;
  const card = h('div', { id: 'scratch', class: 'scratch', 'data-testid': 'scratch' });
  const cover = String(ctx.status.settings?.cover_text ?? '刮开有惊喜');
  let busy = false;
  const button = drawButton('刮一张', () => void start());
  body.append(card, button);
  async function start(): Promise<void> {
    if (busy) return;
    busy = true;
    button.disabled = true;
    const r = await draw(ctx);
    if (!r) {
      busy = false;
      button.disabled = false;
      return;
    }
    card.replaceChildren();
    card.dataset.prize = r.prize_name;
    const sc = new ScratchCard('#scratch', {
      scratchType: SCRATCH_TYPE.CIRCLE,
      containerWidth: w,
      containerHeight: hgt,
      imageForwardSrc: coverImage(cover, w, hgt),
      imageBackgroundSrc: '',
      htmlBackground: `<div class="scratch-prize" data-testid="scratch-prize">${escapeHtml(r.prize_name)}</div>`,
      clearZoneRadius: 22,
      nPoints: 0,
      pointSize: 0,
      percentToFinish: 45,
      brushSrc: '',
      enabledPercentUpdate: true,
      callback: () => {
        busy = false;
        button.disabled = false;
        ctx.showResult(r);
      },
    });
    await sc.init().catch(() => ctx.showResult(r));
  }
}

export function mountLottery(body: HTMLElement, ctx: PageContext): void {
  switch (ctx.status.template) {
    case 'wheel':
      return mountWheel(body, ctx);
    case 'grid9':
      return mountGrid(body, ctx);
    case 'golden_egg':
      return mountPick(body, ctx, 'egg');
    case 'blind_box':
      return mountPick(body, ctx, 'box');
    case 'scratch_card':
      return mountScratch(body, ctx);
  }
}
