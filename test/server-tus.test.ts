import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { sha, start } from './server-helpers.ts';

// Each test stops its servers in t.after, which runs when an assertion fails or the test times
// out: a server left listening kept this file from ever finishing.
const meta = (m: Record<string, string>) => Object.entries(m).map(([k, v]) => `${k} ${Buffer.from(v).toString('base64')}`).join(',');

async function create(api: Awaited<ReturnType<typeof start>>['api'], length: number, name: string) {
  const res = await api('/api/v1/uploads', { method: 'POST', headers: { 'upload-length': String(length), 'upload-metadata': meta({ name }) } });
  assert.equal(res.status, 201);
  return res.headers.get('location')!;
}

function patch(api: Awaited<ReturnType<typeof start>>['api'], url: string, offset: number, body: Uint8Array) {
  return api(url, { method: 'PATCH', headers: { 'content-type': 'application/offset+octet-stream', 'upload-offset': String(offset) }, body });
}

test('OPTIONS advertises tus 1.0.0 with creation and termination', async (t) => {
  const { server, api } = await start();
  t.after(() => server.stop());
  const res = await api('/api/v1/uploads', { method: 'OPTIONS' });
  assert.equal(res.status, 204);
  assert.equal(res.headers.get('tus-version'), '1.0.0');
  assert.match(res.headers.get('tus-extension')!, /creation/);
});

test('an upload sent in uneven pieces, resumed after a HEAD, arrives whole and readable', async (t) => {
  const { server, api } = await start();
  t.after(() => server.stop());
  const data = randomBytes(3 * 65536 + 777);
  const url = await create(api, data.length, 'pieces.bin');
  let offset = 0;
  for (const cut of [1000, 70000, 65536 * 2 + 5]) {
    const res = await patch(api, url, offset, data.subarray(offset, cut));
    assert.equal(res.status, 204);
    offset = Number(res.headers.get('upload-offset'));
    assert.equal(offset, cut);
    const head = await api(url, { method: 'HEAD' });
    assert.equal(head.headers.get('upload-offset'), String(cut));
  }
  const wrong = await patch(api, url, 5, data.subarray(5, 10));
  assert.equal(wrong.status, 409);
  const last = await patch(api, url, offset, data.subarray(offset));
  assert.equal(last.status, 204);
  const id = last.headers.get('x-elohim-item-id')!;
  const content = await api(`/api/v1/items/${id}/content`);
  assert.equal(sha(Buffer.from(await content.arrayBuffer())), sha(data));
  assert.equal((await api(url, { method: 'HEAD' })).status, 404, 'a finished upload is gone');
});

test('after a server restart the upload resumes from the last durable chunk, and no plaintext was ever on disk', async (t) => {
  const first = await start();
  let firstStopped: Promise<void> | undefined;
  const stopFirst = () => (firstStopped ??= first.server.stop());
  t.after(stopFirst);
  const data = Buffer.alloc(5 * 65536 + 123, 'PLAINTEXT-MARKER ');
  const url = await create(first.api, data.length, 'restart.bin');
  assert.equal((await patch(first.api, url, 0, data.subarray(0, 2 * 65536 + 100))).status, 204);
  await stopFirst();
  for (const f of await readdir(join(first.home, 'objects', 'tmp'))) {
    const { readFile } = await import('node:fs/promises');
    assert.equal((await readFile(join(first.home, 'objects', 'tmp', f))).includes('PLAINTEXT-MARKER'), false);
  }

  const second = await start(first.home);
  t.after(() => second.server.stop());
  const head = await second.api(url, { method: 'HEAD' });
  assert.equal(head.headers.get('upload-offset'), String(2 * 65536), 'the unsealed tail was only in memory');
  const res = await patch(second.api, url, 2 * 65536, data.subarray(2 * 65536));
  assert.equal(res.status, 204);
  const id = res.headers.get('x-elohim-item-id')!;
  const content = await second.api(`/api/v1/items/${id}/content`);
  assert.equal(sha(Buffer.from(await content.arrayBuffer())), sha(data));
});

test('an exact multiple of the chunk size finishes correctly; an empty file is a file at creation, with no PATCH', async (t) => {
  const { server, api } = await start();
  t.after(() => server.stop());
  const data = randomBytes(2 * 65536);
  const url = await create(api, data.length, 'exact.bin');
  const res = await patch(api, url, 0, data);
  assert.equal(res.status, 204);
  const content = await api(`/api/v1/items/${res.headers.get('x-elohim-item-id')}/content`);
  assert.equal(sha(Buffer.from(await content.arrayBuffer())), sha(data));

  // tus clients send no PATCH for zero bytes, so the server must not wait for one.
  const empty = await api('/api/v1/uploads', { method: 'POST', headers: { 'upload-length': '0', 'upload-metadata': meta({ name: 'empty.txt' }) } });
  assert.equal(empty.status, 201);
  assert.equal(empty.headers.get('upload-offset'), '0');
  const id = empty.headers.get('x-elohim-item-id');
  assert.match(id ?? '', /^[0-9a-f]{32}$/);
  const item = (await (await api(`/api/v1/items/${id}`)).json()) as { item: { name: string; size: number } };
  assert.deepEqual([item.item.name, item.item.size], ['empty.txt', 0]);
  assert.equal((await (await api(`/api/v1/items/${id}/content`)).arrayBuffer()).byteLength, 0);
  assert.equal((await api(empty.headers.get('location')!, { method: 'HEAD' })).status, 404, 'nothing left to resume');
});

test('bad tus requests are refused and change nothing: wrong version, too many bytes, bad metadata, DELETE cancels', async (t) => {
  const { server, api, home } = await start();
  t.after(() => server.stop());
  assert.equal((await api('/api/v1/uploads', { method: 'POST', headers: { 'tus-resumable': '0.2.2', 'upload-length': '5', 'upload-metadata': meta({ name: 'a' }) } })).status, 412);
  assert.equal((await api('/api/v1/uploads', { method: 'POST', headers: { 'upload-length': 'x', 'upload-metadata': meta({ name: 'a' }) } })).status, 400);
  assert.equal((await api('/api/v1/uploads', { method: 'POST', headers: { 'upload-length': '5', 'upload-metadata': meta({ name: '../x' }) } })).status, 400);
  assert.equal((await api('/api/v1/uploads', { method: 'POST', headers: { 'upload-length': '5' } })).status, 400);
  const url = await create(api, 5, 'five.bin');
  assert.equal((await patch(api, url, 0, Buffer.from('123456'))).status, 413);
  assert.equal((await api(url, { method: 'DELETE' })).status, 204);
  assert.equal((await api(url, { method: 'HEAD' })).status, 404);
  assert.deepEqual(await readdir(join(home, 'objects', 'tmp')), []);
  const list = (await (await api('/api/v1/items')).json()) as { items: unknown[] };
  assert.deepEqual(list.items, []);
});

test('the reference tus client (tus-js-client) uploads through our server, with resume', async (t) => {
  const { Upload } = await import('tus-js-client');
  const { server, api, cookie, csrfToken } = await start();
  t.after(() => server.stop());
  const base = `http://127.0.0.1:${(server.app.server.address() as { port: number }).port}`;
  const data = randomBytes(1024 * 1024 + 4321);
  let itemId = '';
  const url = await new Promise<string>((resolve, reject) => {
    const upload = new Upload(data, {
      endpoint: `${base}/api/v1/uploads`,
      chunkSize: 300 * 1024, // several PATCH requests, not chunk-aligned
      metadata: { name: 'from-tus-js-client.bin' },
      // Our session cookie and CSRF header, as the web UI's tus client will send them.
      headers: { 'x-elohim-csrf': csrfToken, cookie },
      retryDelays: [],
      onAfterResponse: (_req, res) => {
        const id = res.getHeader('x-elohim-item-id');
        if (id) itemId = id;
      },
      onError: reject,
      onSuccess: () => resolve(upload.url!),
    });
    upload.start();
  });
  assert.match(url, /\/api\/v1\/uploads\/[0-9a-f]{32}$/);
  assert.match(itemId, /^[0-9a-f]{32}$/);
  const content = await api(`/api/v1/items/${itemId}/content`);
  assert.equal(sha(Buffer.from(await content.arrayBuffer())), sha(data));
});
