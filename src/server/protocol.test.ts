import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { API, apiPath } from './protocol.ts';

const here = import.meta.dirname;
const read = (...parts: string[]) => readFileSync(join(here, ...parts), 'utf8');
/** Module specifiers a file imports or re-exports at run time (type-only imports are erased). */
const runtimeImports = (text: string) =>
  [...text.matchAll(/^(import|export)\s+(type\s+)?[^;]*?from\s+'([^']+)'/gm)].filter((m) => m[2] === undefined).map((m) => m[3]!);

test('protocol.ts brings nothing into the UI bundle but the audit event names, which import nothing', () => {
  assert.deepEqual(runtimeImports(read('protocol.ts')), ['../audit/event-names.ts']);
  assert.deepEqual(runtimeImports(read('..', 'audit', 'event-names.ts')), []);
});

test('no route imports server.ts (which imports every route): no cycle', () => {
  for (const file of readdirSync(join(here, 'routes')).filter((f) => f.endsWith('.ts'))) {
    assert.ok(!runtimeImports(read('routes', file)).includes('../server.ts'), `routes/${file} imports ../server.ts`);
  }
});

test('web/src/api.ts takes every path, header and cookie name from protocol.ts', () => {
  const api = read('..', '..', 'web', 'src', 'api.ts');
  assert.ok(api.includes("from '../../src/server/protocol.ts'"));
  assert.doesNotMatch(api, /['"`]\/api\/v1/, 'an API path written out in api.ts');
  assert.doesNotMatch(api, /['"`]x-elohim-/i, 'a header name written out in api.ts');
  assert.doesNotMatch(api, /elohim_session/, 'the cookie name written out in api.ts');
});

test('apiPath fills and encodes the id, and refuses a route that needs one without it', () => {
  assert.equal(apiPath(API.item, 'ab'), '/api/v1/items/ab');
  assert.equal(apiPath(API.restore, 'a/b'), '/api/v1/trash/a%2Fb/restore');
  assert.equal(apiPath(API.items), '/api/v1/items');
  assert.throws(() => apiPath(API.content));
});
