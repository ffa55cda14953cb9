import { describe, expect, it } from 'vitest';
import { resources } from './i18n';

function keys(o: object, prefix = ''): string[] {
  return Object.entries(o).flatMap(([k, v]) => (v && typeof v === 'object' ? keys(v, `${prefix}${k}.`) : [`${prefix}${k}`]));
}

describe('translations', () => {
  it('English has every key of Chinese and no other', () => {
    expect(keys(resources.en.translation).sort()).toEqual(keys(resources['zh-CN'].translation).sort());
  });
});
