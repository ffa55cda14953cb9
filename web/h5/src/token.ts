// The customer token arrives in the page URL (/h5/?token=...&activity=ID, from the app
// back-end's POST /v1/h5/tokens). It is moved into sessionStorage at once and removed from the
// address bar, so it does not stay in the history, in bookmarks or in Referer headers.

export const TOKEN_KEY = 'mercator.h5.token';
export const ACTIVITY_KEY = 'mercator.h5.activity';

export interface Session {
  token: string | null;
  activity: number | null;
}

interface Env {
  location: { href: string };
  storage: Pick<Storage, 'getItem' | 'setItem'>;
  replaceUrl: (url: string) => void;
}

/** Takes token and activity from the URL into storage; returns what the page should use. */
export function takeSession(env: Env): Session {
  const url = new URL(env.location.href);
  const fromUrl = url.searchParams.get('token');
  const activityParam = url.searchParams.get('activity');
  if (fromUrl) {
    env.storage.setItem(TOKEN_KEY, fromUrl);
    url.searchParams.delete('token');
    env.replaceUrl(url.pathname + (url.search === '?' ? '' : url.search) + url.hash);
  }
  if (activityParam && /^[1-9][0-9]{0,17}$/.test(activityParam)) {
    env.storage.setItem(ACTIVITY_KEY, activityParam);
  }
  const stored = env.storage.getItem(ACTIVITY_KEY);
  return {
    token: env.storage.getItem(TOKEN_KEY),
    activity: stored ? Number(stored) : null,
  };
}
