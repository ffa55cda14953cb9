// Lottery templates: wheel and 9-grid (lucky-canvas), golden egg, blind box, scratch card
// (scratchcard-js). Each starts its animation, asks the server to draw, and ends on the prize
// the server returned.
import { LuckyGrid, LuckyWheel } from 'lucky-canvas';
import { ScratchCard, SCRATCH_TYPE } from 'scratchcard-js';
import { newKey } from './api';
import { escapeHtml, h, sleep } from './dom';
import type { PageContext } from './main';
import { fillSlots, GRID_RING, slotOf } from './prizes';
import type { DrawResult, Prize } from './prizes';

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

interface Machine {
  play(): void;
  stop(index: number): void;
}

/**
 * The spin of a wheel or grid: play, draw on the server, stop on the drawn prize's slot (or
 * stop without a slot and show the prize), show the result when the machine has stopped.
 */
function spinner(ctx: PageContext, slots: Prize[], button: HTMLButtonElement, machine: () => Machine) {
  let busy = false;
  let pending: DrawResult | null = null;
  const end = () => {
    busy = false;
    button.disabled = false;
    if (pending) ctx.showResult(pending);
    pending = null;
  };
  const spin = async () => {
    if (busy) return;
    busy = true;
    button.disabled = true;
    const m = machine();
    m.play();
    const r = await draw(ctx);
    if (!r) {
      m.stop(-1);
      busy = false;
      button.disabled = false;
      return;
    }
    pending = r;
    const index = slotOf(slots, r);
    await sleep(600);
    if (index < 0) {
      m.stop(-1);
      end();
    } else {
      m.stop(index);
    }
  };
  return { spin, end };
}

function mountWheel(body: HTMLElement, ctx: PageContext): void {
  const slots = ctx.status.prizes;
  const el = h('div', { id: 'wheel', class: 'lucky', 'data-testid': 'wheel' });
  const button = drawButton('开始抽奖', () => void s.spin());
  body.append(el, button);
  const spinMs = Number(ctx.status.settings?.spin_ms ?? 2500);
  const s = spinner(ctx, slots, button, () => wheel);
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
      start: () => void s.spin(),
      end: () => s.end(),
    },
  );
}

function mountGrid(body: HTMLElement, ctx: PageContext): void {
  const slots = fillSlots(ctx.status.prizes, GRID_RING.length);
  const el = h('div', { id: 'grid', class: 'lucky', 'data-testid': 'grid' });
  const button = drawButton('开始抽奖', () => void s.spin());
  body.append(el, button);
  const s = spinner(ctx, slots, button, () => grid);
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
      start: () => void s.spin(),
      end: () => s.end(),
    },
  );
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
      h('span', { class: 'shape' }),
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
    item.append(h('span', { class: 'label' }, r.prize_name));
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
  const cover = String(ctx.status.settings?.cover_text ?? '刮开有惊喜');
  const card = h('div', { id: 'scratch', class: 'scratch', 'data-testid': 'scratch' }, h('div', { class: 'scratch-idle' }, cover));
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
