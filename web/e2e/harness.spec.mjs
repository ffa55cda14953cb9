// The harness itself: the server it starts answers signed and staff requests, the accounts it
// made can sign in, and the browser reaches the server.
import test from 'node:test';
import assert from 'node:assert/strict';
import { useStack, canonicalQuery } from './harness.mjs';

test('canonical query sorts by name, then value, as docs/api-signing.md says', () => {
  assert.equal(canonicalQuery('b=2&a=1'), 'a=1&b=2');
  assert.equal(canonicalQuery('&x=2&&x=10&a'), 'a&x=10&x=2');
});

test('stack: signed client, staff sessions, browser', async (t) => {
  const stack = await useStack(t);
  const who = await stack.signed('GET', '/v1/whoami?b=2&a=1');
  assert.equal(who.status, 200, who.text);
  assert.equal(who.json.id, stack.client.keyId);
  assert.ok(who.json.permissions.includes('draw'));

  const op = await stack.staff('operator');
  const me = await op('GET', '/v1/auth/me');
  assert.equal(me.status, 200);
  assert.deepEqual(me.json.roles, ['operator']);
  const count = await op('POST', '/v1/segments/count', { rule: 'age >= 18' });
  assert.equal(count.status, 200, count.text);
  const cli = stack.cli(['segment', 'age >= 18']);
  assert.match(cli, new RegExp(`^${count.json.count} of 2000 customers`));

  const ap = await stack.staff('approver');
  assert.deepEqual((await ap('GET', '/v1/auth/me')).json.roles, ['approver']);

  const page = await stack.newPage();
  const res = await page.goto(stack.baseUrl + '/readyz');
  assert.equal(res.status(), 200);
});
