import { useEffect, useState } from 'react';
import { api, type Schemas } from './client';

export type TagDef = Schemas['TagDef'];

let cache: Promise<TagDef[]> | null = null;

export function loadTags(): Promise<TagDef[]> {
  if (!cache) {
    cache = api.get('/v1/tags').then((r) => ((r as { tags?: TagDef[] }).tags ?? []) as TagDef[]);
    cache.catch(() => {
      cache = null;
    });
  }
  return cache;
}

export function useTags(): TagDef[] {
  const [tags, setTags] = useState<TagDef[]>([]);
  useEffect(() => {
    loadTags().then(setTags, () => setTags([]));
  }, []);
  return tags;
}

export function tagLabel(tag: TagDef | undefined, en: boolean, key?: string): string {
  if (!tag) return key ?? '';
  return (en ? tag.name_en : tag.name_zh) || tag.key;
}
