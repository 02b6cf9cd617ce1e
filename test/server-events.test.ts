import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { start } from './server-helpers.ts';

test('verify streams progress as Server-Sent Events and ends with the report', async () => {
  const { server, api } = await start();
  for (const name of ['a.bin', 'b.bin']) {
    const res = await api(`/api/v1/files?name=${name}`, { method: 'PUT', headers: { 'content-type': 'application/octet-stream' }, body: randomBytes(300_000) });
    assert.equal(res.status, 201);
  }
  const res = await api('/api/v1/verify');
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type')!, /^text\/event-stream/);
  assert.equal(res.headers.get('x-frame-options'), 'DENY');
  const text = await res.text();
  const events = [...text.matchAll(/^event: (\w+)\ndata: (.*)$/gm)].map((m) => [m[1], JSON.parse(m[2]!)] as const);
  assert.ok(events.some(([e]) => e === 'progress'));
  const [lastEvent, report] = events.at(-1)!;
  assert.equal(lastEvent, 'done');
  assert.deepEqual(report, { files: 2, bytes: 600_000, damaged: [] });
  await server.stop();
});
