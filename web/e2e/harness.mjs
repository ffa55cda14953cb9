// The end-to-end harness: a real `mercator serve` over a fresh demo bank, staff accounts made
// with the CLI, and headless Debian Chromium driven by playwright-core.
//
//   import { startStack } from './harness.mjs';
//   const stack = await startStack();          // demo bank, operator, approver, API client
//   try { const page = await stack.newPage(); ... } finally { await stack.stop(); }
//
// or, inside node:test, `const stack = await useStack(t)` which stops the stack when the test
// ends, whatever its outcome. Everything the stack made (data directory, server, browser) is
// removed by stop(); a process exit or SIGINT/SIGTERM stops the server too.
//
// Environment:
//   MERCATOR_BIN   the mercator binary (default build/ci/src/cli/mercator, then build-ci/...,
//                  relative to the repository root)
//   CHROMIUM       the browser (default /usr/bin/chromium)
//   E2E_HEADFUL=1  show the browser
//   E2E_KEEP=1     keep the data directory (its path is printed)

import { spawn, execFileSync } from 'node:child_process';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, '..', '..');
export const webRoot = path.resolve(repoRoot, 'web');
export const screenshotDir = path.join(here, 'screenshots');

export function mercatorBin() {
  if (process.env.MERCATOR_BIN) return path.resolve(repoRoot, process.env.MERCATOR_BIN);
  const candidates = ['build/ci/src/cli/mercator', 'build-ci/src/cli/mercator'];
  for (const c of candidates) {
    const p = path.join(repoRoot, c);
    if (fs.existsSync(p)) return p;
  }
  return path.join(repoRoot, candidates[0]);
}

// Runs the CLI against the stack's data directory; returns stdout (throws with stderr on failure).
export function runCli(bin, dataDir, args) {
  try {
    return execFileSync(bin, ['--data', dataDir, ...args], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 120_000,
    });
  } catch (e) {
    throw new Error(`mercator ${args.join(' ')} failed: ${e.stderr || e.message}`);
  }
}

// `user add` prints "password: XXXXX-..." once.
export function parsePassword(out) {
  const m = /password:\s*(\S+)/.exec(out);
  if (!m) throw new Error(`no one-time password in: ${out}`);
  return m[1];
}

export function parseClient(out) {
  const k = /key_id:\s*(ck_[0-9a-f]+)/.exec(out);
  const s = /secret:\s*(cs_[0-9a-f]+)/.exec(out);
  if (!k || !s) throw new Error(`no key id / secret in: ${out}`);
  return { keyId: k[1], secret: s[1] };
}

export async function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

// --- request signing (docs/api-signing.md) ----------------------------------------------------

export function canonicalQuery(query) {
  const pieces = query.split('&').filter((p) => p !== '');
  const name = (p) => (p.includes('=') ? p.slice(0, p.indexOf('=')) : p);
  const value = (p) => (p.includes('=') ? p.slice(p.indexOf('=') + 1) : '');
  const cmp = (a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b));
  pieces.sort((a, b) => cmp(name(a), name(b)) || cmp(value(a), value(b)) || cmp(a, b));
  return pieces.join('&');
}

export function signRequest({ keyId, secret }, method, target, body = '', now = Date.now()) {
  const q = target.indexOf('?');
  const p = q < 0 ? target : target.slice(0, q);
  const query = q < 0 ? '' : canonicalQuery(target.slice(q + 1));
  const nonce = randomBytes(16).toString('hex');
  const bodyHash = createHash('sha256').update(Buffer.from(body, 'utf8')).digest('hex');
  const toSign = ['MCT-HMAC-SHA256', method.toUpperCase(), p, query, String(now), nonce, bodyHash].join('\n');
  const signature = createHmac('sha256', secret).update(toSign).digest('hex');
  return `MCT-HMAC-SHA256 Credential=${keyId}, Timestamp=${now}, Nonce=${nonce}, Signature=${signature}`;
}

// A client for the app back-end API: signed(method, target, body?, headers?) -> {status, json, text}.
export function signedClient(baseUrl, credentials) {
  return async function signed(method, target, body, headers = {}) {
    const text = body === undefined ? '' : typeof body === 'string' ? body : JSON.stringify(body);
    const res = await fetch(baseUrl + target, {
      method,
      headers: {
        Authorization: signRequest(credentials, method, target, text),
        ...(text ? { 'Content-Type': 'application/json' } : {}),
        ...headers,
      },
      body: text || undefined,
    });
    return readResponse(res);
  };
}

async function readResponse(res) {
  const text = await res.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  return { status: res.status, headers: res.headers, json, text };
}

// A staff session outside the browser (an independent view of the API for assertions):
// staff(method, target, body?) with the cookie and the CSRF token.
export async function staffClient(baseUrl, { username, password }) {
  const login = await fetch(baseUrl + '/v1/auth/login', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ username, password }),
  });
  if (login.status !== 200) throw new Error(`login ${username}: HTTP ${login.status} ${await login.text()}`);
  const cookie = (login.headers.get('set-cookie') || '').split(';')[0];
  const { csrf_token: csrf } = await login.json();
  return async function staff(method, target, body) {
    const res = await fetch(baseUrl + target, {
      method,
      headers: {
        Cookie: cookie,
        ...(method === 'GET' ? {} : { 'X-CSRF-Token': csrf }),
        ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return readResponse(res);
  };
}

// --- static fallback ------------------------------------------------------------------------
// Until `serve --web-root` exists in the binary, a small same-origin front serves
// web/<app>/dist at /<app>/ (SPA fallback to index.html) and forwards everything else to
// mercator, so the console and the session cookie work the same way.

const mimeTypes = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.json': 'application/json',
  '.woff2': 'font/woff2',
  '.ico': 'image/x-icon',
};

async function startFront(port, upstreamPort) {
  const server = http.createServer((req, res) => {
    const m = /^\/(console|h5)(\/[^?]*)?/.exec(req.url);
    if (m) {
      const dist = path.join(webRoot, m[1], 'dist');
      let rel = decodeURIComponent(m[2] || '/');
      let file = path.join(dist, path.normalize(rel));
      if (!file.startsWith(dist) || !fs.existsSync(file) || fs.statSync(file).isDirectory()) {
        file = path.join(dist, 'index.html');
      }
      if (!fs.existsSync(file)) {
        res.writeHead(404).end('not built');
        return;
      }
      res.writeHead(200, { 'Content-Type': mimeTypes[path.extname(file)] || 'application/octet-stream' });
      fs.createReadStream(file).pipe(res);
      return;
    }
    const up = http.request(
      { host: '127.0.0.1', port: upstreamPort, method: req.method, path: req.url, headers: req.headers },
      (ur) => {
        res.writeHead(ur.statusCode, ur.headers);
        ur.pipe(res);
      },
    );
    up.on('error', (e) => res.writeHead(502).end(String(e)));
    req.pipe(up);
  });
  await new Promise((r) => server.listen(port, '127.0.0.1', r));
  return server;
}

// --- the stack ------------------------------------------------------------------------------

const live = new Set();
function killAll() {
  for (const child of live) {
    try {
      child.kill('SIGKILL');
    } catch {
      /* already gone */
    }
  }
}
process.on('exit', killAll);
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    killAll();
    process.exit(130);
  });
}

/**
 * Starts a demo bank and a server. Options:
 *   customers  demo bank size (2000)
 *   users      accounts to create: {name: {username, role, managerId?}}; default an operator and
 *              an approver (stack.users also has `admin`, the account the demo bank made)
 *   clientScopes  scopes of the API client made for app back-end calls (draw,events,placements)
 *   browser    launch Chromium (true)
 */
export async function startStack(options = {}) {
  const {
    customers = 2000,
    users = {
      operator: { username: 'olivia', role: 'operator' },
      approver: { username: 'arthur', role: 'approver' },
    },
    clientScopes = 'draw,events,placements',
    browser: withBrowser = true,
  } = options;
  const bin = mercatorBin();
  if (!fs.existsSync(bin)) throw new Error(`no mercator binary at ${bin} (set MERCATOR_BIN)`);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mercator-e2e-'));
  const dataDir = path.join(tmp, 'data');
  const stack = {
    bin,
    dataDir,
    tmp,
    users: {},
    server: null,
    front: null,
    browser: null,
    contexts: [],
    logFile: path.join(tmp, 'server.log'),
  };
  stack.cli = (args) => runCli(bin, dataDir, args);
  stack.stop = async () => {
    // The last state of every page, for a failed run (screenshots/last-<n>.png).
    let n = 0;
    for (const c of stack.contexts) {
      for (const p of c.pages()) {
        fs.mkdirSync(screenshotDir, { recursive: true });
        await p.screenshot({ path: path.join(screenshotDir, `last-${++n}.png`), fullPage: true }).catch(() => {});
      }
    }
    for (const c of stack.contexts) await c.close().catch(() => {});
    if (stack.browser) await stack.browser.close().catch(() => {});
    if (stack.front) await new Promise((r) => stack.front.close(r));
    if (stack.server) {
      const child = stack.server;
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        const exited = await Promise.race([
          new Promise((r) => child.once('exit', () => r(true))),
          sleep(10_000).then(() => false),
        ]);
        if (!exited) child.kill('SIGKILL');
      }
      live.delete(child);
    }
    if (process.env.E2E_KEEP) {
      console.log(`e2e: kept ${tmp}`);
    } else {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  };
  try {
    // The demo creates the first admin and prints its one-time password.
    const demo = stack.cli(['demo', '--customers', String(customers)]);
    if (/username:\s*admin/.test(demo)) stack.users.admin = { username: 'admin', role: 'admin', password: parsePassword(demo) };
    for (const [key, u] of Object.entries(users)) {
      const out = stack.cli(['user', 'add', '--username', u.username, '--role', u.role,
        ...(u.managerId ? ['--manager-id', u.managerId] : [])]);
      stack.users[key] = { username: u.username, role: u.role, password: parsePassword(out) };
    }
    stack.client = parseClient(stack.cli(['client', 'add', '--name', 'e2e app', '--scope', clientScopes]));

    const serveHelp = execFileSync(bin, ['serve', '--help'], { encoding: 'utf8' });
    stack.hasWebRoot = serveHelp.includes('--web-root');
    const port = await freePort();
    const args = ['--data', dataDir, 'serve', '--address', '127.0.0.1', '--port', String(port),
      '--io-threads', '2'];
    if (serveHelp.includes('--insecure-cookies')) args.push('--insecure-cookies');
    if (stack.hasWebRoot) args.push('--web-root', webRoot);
    const log = fs.openSync(stack.logFile, 'a');
    const child = spawn(bin, args, { stdio: ['ignore', log, log] });
    fs.closeSync(log);
    live.add(child);
    stack.server = child;
    const serverUrl = `http://127.0.0.1:${port}`;
    await waitReady(serverUrl, child, stack.logFile);
    if (stack.hasWebRoot) {
      stack.baseUrl = serverUrl;
    } else {
      const frontPort = await freePort();
      stack.front = await startFront(frontPort, port);
      stack.baseUrl = `http://127.0.0.1:${frontPort}`;
    }
    stack.serverUrl = serverUrl;
    stack.signed = signedClient(serverUrl, stack.client);
    stack.staff = (who) => staffClient(serverUrl, stack.users[who]);

    if (withBrowser) {
      stack.browser = await chromium.launch({
        executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
        headless: !process.env.E2E_HEADFUL,
        args: ['--no-sandbox', '--disable-dev-shm-usage'],
      });
    }
    // A fresh browser context (own cookies) per page: two staff can be signed in at once.
    stack.newPage = async (contextOptions = {}) => {
      const ctx = await stack.browser.newContext({
        viewport: { width: 1440, height: 900 },
        locale: 'zh-CN',
        ...contextOptions,
      });
      stack.contexts.push(ctx);
      const page = await ctx.newPage();
      page.setDefaultTimeout(15_000);
      // Script errors in the page are test evidence: print them as they happen.
      page.on('pageerror', (e) => console.error(`e2e: page error: ${e.message}`));
      page.on('console', (m) => {
        if (m.type() === 'error' && !/status of 4\d\d/.test(m.text())) console.error(`e2e: console: ${m.text()}`);
      });
      return page;
    };
    stack.screenshot = async (page, name) => {
      fs.mkdirSync(screenshotDir, { recursive: true });
      const file = path.join(screenshotDir, `${name}.png`);
      await page.screenshot({ path: file, fullPage: true });
      return file;
    };
    stack.serverLog = () => fs.readFileSync(stack.logFile, 'utf8');
    return stack;
  } catch (e) {
    await stack.stop();
    throw e;
  }
}

async function waitReady(url, child, logFile) {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) {
      throw new Error(`mercator serve exited (${child.exitCode}):\n${fs.readFileSync(logFile, 'utf8').slice(-4000)}`);
    }
    try {
      const res = await fetch(url + '/readyz');
      if (res.status === 200) return;
    } catch {
      /* not listening yet */
    }
    await sleep(100);
  }
  throw new Error(`mercator serve not ready after 60 s:\n${fs.readFileSync(logFile, 'utf8').slice(-4000)}`);
}

// For node:test: the stack is stopped when the test ends (passed or failed).
export async function useStack(t, options) {
  const stack = await startStack(options);
  t.after(() => stack.stop());
  return stack;
}
