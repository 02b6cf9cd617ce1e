import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { start } from './server-helpers.ts';
import { jsonEventsOf } from './sse.ts';

test('verify streams progress as Server-Sent Events and ends with the report', async (t) => {
  const { server, api } = await start();
  t.after(() => server.stop()); // also when an assertion fails: a running server hangs the file
  for (const name of ['a.bin', 'b.bin']) {
    const res = await api(`/api/v1/files?name=${name}`, { method: 'PUT', headers: { 'content-type': 'application/octet-stream' }, body: randomBytes(300_000) });
    assert.equal(res.status, 201);
  }
  const res = await api('/api/v1/verify');
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type')!, /^text\/event-stream/);
  assert.equal(res.headers.get('x-frame-options'), 'DENY');
  const text = await res.text();
  const events = jsonEventsOf(text);
  assert.ok(events.some((e) => e.event === 'progress'));
  const { event: lastEvent, data: report } = events.at(-1)!;
  assert.equal(lastEvent, 'done');
  assert.deepEqual(report, { files: 2, bytes: 600_000, damaged: [] });
});

test('the audit log over HTTP: listed with filters, verified, exported as JSON Lines', async (t) => {
  const { server, api } = await start();
  t.after(() => server.stop()); // also when an assertion fails: a running server hangs the file
  const up = await api('/api/v1/files?name=a.txt', { method: 'PUT', headers: { 'content-type': 'application/octet-stream' }, body: 'hello' });
  const { item } = (await up.json()) as { item: { id: string } };
  await (await api(`/api/v1/items/${item.id}/content`)).arrayBuffer();
  const all = (await (await api('/api/v1/audit')).json()) as { entries: { event: string; details: Record<string, unknown> }[]; total: number };
  assert.deepEqual(all.entries.map((e) => e.event), ['download', 'unlock', 'setup']);
  assert.equal(all.entries[0]!.details.path, '/a.txt');
  const downloads = (await (await api('/api/v1/audit?event=download')).json()) as { total: number };
  assert.equal(downloads.total, 1);
  assert.equal((await api('/api/v1/audit?event=bogus')).status, 400);
  const verify = (await (await api('/api/v1/audit/verify')).json()) as { ok: boolean; entries: number };
  assert.deepEqual([verify.ok, verify.entries], [true, 3]);
  const lines = (await (await api('/api/v1/audit/export')).text()).trim().split('\n').map((l) => JSON.parse(l) as { seq: number });
  assert.deepEqual(lines.map((l) => l.seq), [1, 2, 3]);
});
