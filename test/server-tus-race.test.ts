/**
 * Two PATCHes racing to one tus upload (issue 8, "Found when tried as an attacker would", item 1):
 * the second must get 409 and the file must be whole, one sender's bytes, never a mix; also
 * when the upload is first touched after a restart (its writer is then reopened from disk).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import { sha, start } from './server-helpers.ts';

type Api = Awaited<ReturnType<typeof start>>['api'];

const meta = (name: string) => `name ${Buffer.from(name).toString('base64')}`;

async function create(api: Api, length: number, name: string): Promise<string> {
  const res = await api('/api/v1/uploads', { method: 'POST', headers: { 'upload-length': String(length), 'upload-metadata': meta(name) } });
  assert.equal(res.status, 201);
  return res.headers.get('location')!;
}

/**
 * A PATCH whose body sends its first half at once and the rest after a pause, so that it is
 * surely still in flight when the other request of the race is handled.
 */
function slowPatch(api: Api, url: string, offset: number, body: Buffer): Promise<Response> {
  const half = Math.floor(body.length / 2);
  const stream = new ReadableStream<Uint8Array>({
    async start(controller) {
      controller.enqueue(body.subarray(0, half));
      await sleep(300);
      controller.enqueue(body.subarray(half));
      controller.close();
    },
  });
  return api(url, {
    method: 'PATCH',
    headers: { 'content-type': 'application/offset+octet-stream', 'upload-offset': String(offset) },
    body: stream,
    duplex: 'half',
  } as RequestInit);
}

/** Races two PATCHes of different bytes at `offset`; returns the winner's bytes and file id. */
async function race(api: Api, url: string, offset: number, a: Buffer, b: Buffer): Promise<{ winner: Buffer; fileId: string }> {
  const [ra, rb] = await Promise.all([slowPatch(api, url, offset, a), slowPatch(api, url, offset, b)]);
  const statuses = [ra.status, rb.status];
  await Promise.all([ra.arrayBuffer(), rb.arrayBuffer()]);
  assert.deepEqual([...statuses].sort(), [204, 409], `one PATCH wins, the other is refused (got ${statuses.join(', ')})`);
  const won = ra.status === 204 ? ra : rb;
  return { winner: ra.status === 204 ? a : b, fileId: won.headers.get('x-elohim-item-id')! };
}

/** The stored file is exactly `expected`, and its recorded SHA-256 (the ETag) says so too. */
async function assertWhole(api: Api, fileId: string, expected: Buffer): Promise<void> {
  const res = await api(`/api/v1/items/${fileId}/content`);
  assert.equal(res.status, 200);
  const got = Buffer.from(await res.arrayBuffer());
  assert.equal(got.length, expected.length);
  assert.equal(sha(got), sha(expected), 'the content is one sender\'s bytes');
  assert.equal(res.headers.get('etag'), `"${sha(expected)}"`, 'the recorded SHA-256 matches the content');
}

test('two parallel first PATCHes to one upload: one wins, the other gets 409, the file is whole', async () => {
  const { server, api } = await start();
  try {
    for (let round = 0; round < 3; round++) {
      const size = 3 * 65536 + 1234;
      const [a, b] = [randomBytes(size), randomBytes(size)];
      const url = await create(api, size, `race-${round}.bin`);
      const { winner, fileId } = await race(api, url, 0, a, b);
      await assertWhole(api, fileId, winner);
    }
  } finally {
    await server.stop();
  }
});

test('two parallel PATCHes to an upload first touched after a restart: one wins, the other gets 409', async () => {
  const first = await start();
  const size = 4 * 65536 + 99;
  const head = randomBytes(2 * 65536);
  const [a, b] = [randomBytes(size - head.length), randomBytes(size - head.length)];
  const url = await create(first.api, size, 'race-restart.bin');
  try {
    const res = await first.api(url, { method: 'PATCH', headers: { 'content-type': 'application/offset+octet-stream', 'upload-offset': '0' }, body: head });
    assert.equal(res.status, 204);
  } finally {
    await first.server.stop();
  }
  const second = await start(first.home);
  try {
    const { winner, fileId } = await race(second.api, url, head.length, a, b);
    await assertWhole(second.api, fileId, Buffer.concat([head, winner]));
  } finally {
    await second.server.stop();
  }
});
