/**
 * Shared folders between real `elohim serve` processes (each its own ELOHIM_HOME and port) over
 * TCP on 127.0.0.1: share, sync both ways with a conflict in between (both versions kept on
 * both), kill -9 a device mid-transfer and restart it (the sync completes, every SHA-256 equal),
 * a bundle through a file (twice, and an older one after a newer), and the bytes between the
 * devices (through a recording relay) carrying no file name or content.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { decodeCode, encodeCode } from '../src/mesh/index.ts';
import { API, apiPath, CSRF_HEADER } from '../src/server/protocol.ts';
import { initHome, makeTempDir, PASSPHRASE, removeTempDirs, sha256 } from './helpers.ts';
import { eventually, recordingRelay, startDevice } from './mesh-net-helpers.ts';
import type { Device } from './mesh-net-helpers.ts';
import { jsonEvents } from './sse.ts';

const devices: Device[] = [];
after(async () => {
  // A device that does not stop within 10 s is killed, so a failed test never holds the run.
  for (const d of devices) await Promise.race([d.stop(), new Promise<void>((r) => setTimeout(r, 10_000).unref()).then(() => d.child.kill('SIGKILL'))]);
  await removeTempDirs();
});

/** A session of our own on a device, for raw uploads and downloads. */
async function session(d: Device) {
  const res = await fetch(d.url + API.session, { method: 'POST', headers: { 'content-type': 'application/json', [CSRF_HEADER]: 'test' }, body: JSON.stringify({ passphrase: PASSPHRASE }) });
  assert.equal(res.status, 201);
  const cookie = res.headers.get('set-cookie')!.split(';')[0]!;
  const csrf = ((await res.json()) as { csrfToken: string }).csrfToken;
  const headers = { cookie, [CSRF_HEADER]: csrf };
  const children = async (parent: string | null) => {
    const r = await fetch(`${d.url}${API.items}${parent ? `?parent=${parent}` : ''}`, { headers });
    return ((await r.json()) as { items: { id: string; name: string; kind: string }[] }).items;
  };
  const folderAt = async (path: string[]): Promise<string | null> => {
    let id: string | null = null;
    for (const name of path) {
      const found: { id: string } | undefined = (await children(id)).find((c) => c.name === name && c.kind === 'folder');
      if (!found) return null;
      id = found.id;
    }
    return id;
  };
  return {
    async mkdir(parent: string | null, name: string) {
      const r = await d.call('POST', API.folders, { parent, name });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      return r.body.item.id as string;
    },
    async put(parent: string, name: string, data: Buffer, replace = false) {
      const r = await fetch(`${d.url}${API.files}?parent=${parent}&name=${encodeURIComponent(name)}${replace ? '&replace=true' : ''}`, { method: 'PUT', headers: { ...headers, 'content-type': 'application/octet-stream' }, body: data });
      assert.equal(r.status, 201, await r.text());
    },
    /** name → SHA-256 of every file below the folder at `path` (null when the folder is missing) */
    async tree(path: string[]): Promise<Record<string, string> | null> {
      const root = await folderAt(path);
      if (root === null) return null;
      const out: Record<string, string> = {};
      const walk = async (id: string, prefix: string) => {
        for (const c of await children(id)) {
          if (c.kind === 'folder') await walk(c.id, `${prefix}${c.name}/`);
          else out[`${prefix}${c.name}`] = sha256(Buffer.from(await (await fetch(d.url + apiPath(API.content, c.id), { headers })).arrayBuffer()));
        }
      };
      await walk(root, '');
      return out;
    },
    folderAt,
  };
}

/** Runs a sync on `d` through the SSE route; resolves with the `done` event's data, rejects on `error`. */
async function sync(d: Device, onEvent?: (event: string, data: any) => void): Promise<any> {
  const res = await fetch(d.url + API.meshSync, { method: 'POST', headers: await headersOf(d), body: '{}' });
  if (res.status !== 200) throw new Error(`sync answered ${res.status}: ${await res.text()}`);
  for await (const { event, data } of jsonEvents(res.body!)) {
    onEvent?.(event, data);
    if (event === 'done') return data;
    if (event === 'error') throw Object.assign(new Error(data.message), { code: data.code });
  }
  throw new Error('the sync stream ended without done');
}

const sessions = new Map<Device, Record<string, string>>();
async function headersOf(d: Device): Promise<Record<string, string>> {
  let h = sessions.get(d);
  if (!h) {
    const res = await fetch(d.url + API.session, { method: 'POST', headers: { 'content-type': 'application/json', [CSRF_HEADER]: 'test' }, body: JSON.stringify({ passphrase: PASSPHRASE }) });
    h = { cookie: res.headers.get('set-cookie')!.split(';')[0]!, [CSRF_HEADER]: ((await res.json()) as { csrfToken: string }).csrfToken, 'content-type': 'application/json' };
    sessions.set(d, h);
  }
  return h;
}

/** Pairs b with a through a relay that records every byte between them (b reaches a through it). */
async function pairViaRelay(a: Device, b: Device) {
  const shown = await a.call('POST', API.meshCode, {});
  const parsed = decodeCode(shown.body.code);
  const aPort = Number(/\/tcp\/(\d+)/.exec((await a.call('GET', API.mesh)).body.addresses[0])![1]);
  const relay = await recordingRelay(aPort);
  const viaRelay = encodeCode({ ...parsed, addrs: [Buffer.from([0x04, 127, 0, 0, 1, 0x06, relay.port >> 8, relay.port & 0xff])] });
  const paired = await b.call('POST', API.meshPair, { code: viaRelay });
  assert.equal(paired.status, 200, JSON.stringify(paired.body));
  await eventually(async () => ((await a.call('GET', API.meshPeers)).body.peers as { deviceId: string }[]).some((p) => p.deviceId === b.deviceId), 'a lists b');
  return relay;
}

test('two devices: share, sync both ways with a conflict, kill -9 mid-transfer and resume, nothing readable on the wire', { timeout: 300_000 }, async (t) => {
  const a = await startDevice('laptop');
  devices.push(a);
  let b = await startDevice('phone');
  devices.push(b);
  const relay = await pairViaRelay(a, b);
  t.after(() => relay.close());
  const sa = await session(a);
  const team = await sa.mkdir(null, 'Team-folder-of-record');
  const plan = Buffer.from('the plan: first version, written on the laptop');
  await sa.put(team, 'plan-of-record.txt', plan);
  const notes = await sa.mkdir(team, 'notes');
  await sa.put(notes, 'meeting.md', Buffer.from('# meeting\nsecret agenda marker'));

  // Share with the phone (its signing key is learnt in a first hello), then the phone pulls.
  const shared = await a.call('POST', API.meshShares, { path: '/Team-folder-of-record', with: [b.deviceId] });
  assert.equal(shared.status, 201, JSON.stringify(shared.body));
  assert.equal(shared.body.members.length, 2);
  await sync(b);
  const sb = await session(b);
  const onA = await sa.tree(['Team-folder-of-record']);
  assert.deepEqual(await sb.tree(['Shares', 'Team-folder-of-record']), onA);
  assert.deepEqual(Object.keys(onA!).sort(), ['notes/meeting.md', 'plan-of-record.txt']);

  // Both edit the plan while apart (neither syncs), then they meet: both versions on both.
  await sa.put(team, 'plan-of-record.txt', Buffer.from('laptop edit of the plan'), true);
  const teamOnB = (await sb.folderAt(['Shares', 'Team-folder-of-record']))!;
  await sb.put(teamOnB, 'plan-of-record.txt', Buffer.from('phone edit of the plan'), true);
  await sync(b);
  await sync(b);
  const afterA = (await sa.tree(['Team-folder-of-record']))!;
  const afterB = (await sb.tree(['Shares', 'Team-folder-of-record']))!;
  assert.deepEqual(afterB, afterA);
  const plans = Object.keys(afterA).filter((n) => n.startsWith('plan-of-record'));
  assert.equal(plans.length, 2, `both versions kept: ${plans.join(', ')}`);
  assert.ok(plans.some((n) => /\(conflict .+ \d{4}-\d\d-\d\d \d{6}\)\.txt$/.test(n)), plans.join(', '));
  assert.deepEqual(new Set(plans.map((n) => afterA[n])), new Set([sha256('laptop edit of the plan'), sha256('phone edit of the plan')]));
  const conflicts = await a.call('GET', API.meshShareConflicts, undefined, shared.body.id);
  assert.equal(conflicts.body.conflicts.length, 1);

  // A big file; the phone is killed (SIGKILL) mid-transfer, restarted, and the sync completes.
  const big = randomBytes(48 * 1024 * 1024);
  await sa.put(team, 'video.bin', big);
  let killed = false;
  const cut = sync(b, (event, data) => {
    if (process.env.DEBUG_SYNC) console.error(event, JSON.stringify(data).slice(0, 200));
    if (!killed && event === 'progress' && data.progress?.bytes > 8 * 1024 * 1024) {
      killed = true;
      b.child.kill('SIGKILL');
    }
  }).catch((err) => err);
  await cut;
  assert.equal(killed, true, 'the phone was killed mid-transfer');
  await b.stop();
  b = await startDevice('phone', { home: b.t });
  devices.push(b);
  let resumedBytes = 0;
  await sync(b, (event, data) => {
    if (event === 'peer-done') resumedBytes = data.bytes;
  });
  assert.ok(resumedBytes > 0 && resumedBytes < big.length, `the transfer resumed (${resumedBytes} of ${big.length} bytes sent again)`);
  const final = (await (await session(b)).tree(['Shares', 'Team-folder-of-record']))!;
  assert.deepEqual(final, await sa.tree(['Team-folder-of-record']));
  assert.equal(final['video.bin'], sha256(big));
  // The same stored ciphertext on both devices, one object each: the laptop shared its own
  // object (no copy) and the phone adopted the one it received (no re-seal, no second object).
  const bigObjects = async (home: string) => {
    const out: string[] = [];
    for (const shard of await readdir(join(home, 'objects'))) {
      if (!/^[0-9a-f]{2}$/.test(shard)) continue;
      for (const f of await readdir(join(home, 'objects', shard))) {
        const bytes = await readFile(join(home, 'objects', shard, f));
        if (bytes.length > big.length) out.push(createHash('sha256').update(bytes).digest('hex'));
      }
    }
    return out;
  };
  const [onLaptop, onPhone] = [await bigObjects(a.t.home), await bigObjects(b.t.home)];
  assert.equal(onLaptop.length, 1, 'one object of the big file on the laptop');
  assert.deepEqual(onPhone, onLaptop, 'the phone holds the same stored bytes, once');

  // What went between the two through the relay (the phone reached the laptop through it until
  // its restart; after, it may dial the laptop's own address): no name and no content in it.
  const wire = relay.bytes();
  assert.ok(wire.length > 100_000, `the relay carried the syncs (${wire.length} bytes)`);
  for (const needle of ['plan-of-record', 'meeting.md', 'secret agenda marker', 'laptop edit of the plan', 'Team-folder-of-record', big.subarray(1 << 20, (1 << 20) + 64)]) {
    assert.equal(wire.includes(needle), false, `plaintext on the wire: ${String(needle).slice(0, 30)}`);
  }

  // The witness: each kept the other's audit head.
  const w = await a.call('GET', API.meshWitness);
  assert.equal(w.body.ok, true);
  assert.equal(w.body.latest?.peer, b.deviceId);
  // and `audit verify` (GET /audit/verify) reports it beside the chain's own check
  const verified = await a.call('GET', API.auditVerify);
  assert.equal(verified.body.ok, true);
  assert.equal(verified.body.witness?.latest?.peer, b.deviceId);
});

test('a bundle through a file: merged as a sync would; twice or an older one after a newer change nothing', { timeout: 180_000 }, async () => {
  const a = await startDevice('office-a');
  const b = await startDevice('office-b');
  devices.push(a, b);
  await pairViaRelay(a, b).then((r) => r.close());
  const sa = await session(a);
  const box = await sa.mkdir(null, 'Box');
  await sa.put(box, 'one.txt', Buffer.from('one'));
  assert.equal((await a.call('POST', API.meshShares, { path: '/Box', with: [b.deviceId] })).status, 201);
  await sync(a);
  // No network from here: b goes offline.
  await b.call('POST', API.meshOff);
  const dir = await makeTempDir();
  await sa.put(box, 'two.txt', Buffer.from('two'));
  const first = join(dir, 'first.bundle');
  assert.equal((await a.call('POST', API.meshBundleExport, { to: b.deviceId, path: first })).status, 200);
  await sa.put(box, 'two.txt', Buffer.from('two, edited'), true);
  const second = join(dir, 'second.bundle');
  assert.equal((await a.call('POST', API.meshBundleExport, { to: b.deviceId, path: second })).status, 200);
  const sb = await session(b);
  const r2 = await b.call('POST', API.meshBundleImport, { path: second });
  assert.equal(r2.status, 200, JSON.stringify(r2.body));
  const expected = await sa.tree(['Box']);
  assert.deepEqual(await sb.tree(['Shares', 'Box']), expected);
  const r1 = await b.call('POST', API.meshBundleImport, { path: first });
  assert.equal(r1.body.changed, 0, 'the older bundle changes nothing');
  const again = await b.call('POST', API.meshBundleImport, { path: second });
  assert.deepEqual([again.body.versions, again.body.changed], [0, 0]);
  assert.deepEqual(await sb.tree(['Shares', 'Box']), expected);
  // Not for this device, or not a path: a clear 4xx, nothing changed.
  const wrong = await a.call('POST', API.meshBundleImport, { path: second });
  assert.equal(wrong.status, 400);
  assert.equal(wrong.body.error.code, 'BUNDLE_INVALID');
  assert.equal((await b.call('POST', API.meshBundleImport, { path: 'relative/x' })).status, 400);
});

test('three devices: an edit made on one reaches the third through the hub; a read-only member changes nothing; a removed one gets nothing new', { timeout: 240_000 }, async () => {
  const a = await startDevice('hub');
  const b = await startDevice('writer');
  const c = await startDevice('reader');
  devices.push(a, b, c);
  await (await pairViaRelay(a, b)).close();
  await (await pairViaRelay(a, c)).close();
  const sa = await session(a);
  const docs = await sa.mkdir(null, 'Docs');
  await sa.put(docs, 'a.txt', Buffer.from('from the hub'));
  const created = await a.call('POST', API.meshShares, { path: '/Docs', with: [b.deviceId] });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  assert.equal((await a.call('POST', API.meshShares, { path: '/Docs', with: [c.deviceId], readOnly: true })).status, 201);
  await sync(b);
  await sync(c);
  const sb = await session(b);
  const sc = await session(c);
  // The writer edits; the hub gets it; the reader gets it from the hub (b and c are not paired).
  await sb.put((await sb.folderAt(['Shares', 'Docs']))!, 'b.txt', Buffer.from('from the writer'));
  await sync(b);
  await sync(c);
  const expected = await sa.tree(['Docs']);
  assert.deepEqual(Object.keys(expected!).sort(), ['a.txt', 'b.txt']);
  assert.deepEqual(await sb.tree(['Shares', 'Docs']), expected);
  assert.deepEqual(await sc.tree(['Shares', 'Docs']), expected);
  // What the reader writes stays on the reader.
  await sc.put((await sc.folderAt(['Shares', 'Docs']))!, 'c.txt', Buffer.from('from the reader'));
  await sync(c);
  await sync(b);
  assert.deepEqual(await sa.tree(['Docs']), expected);
  assert.deepEqual(await sb.tree(['Shares', 'Docs']), expected);
  // Remove the reader: the key rotates, and a new file does not reach it.
  const removed = await a.call('POST', API.meshShareRemove, { device: c.deviceId }, created.body.id);
  assert.equal(removed.status, 200, JSON.stringify(removed.body));
  assert.equal(removed.body.epoch, 2);
  await sa.put(docs, 'after.txt', Buffer.from('after the removal'));
  await sync(b);
  await sync(c);
  assert.ok('after.txt' in (await sb.tree(['Shares', 'Docs']))!);
  assert.equal('after.txt' in (await sc.tree(['Shares', 'Docs']))!, false, 'the removed device gets nothing new');
});

test('the CLI: a device with no server pairs, syncs, gets the shared files, and exports a bundle', { timeout: 180_000 }, async () => {
  const a = await startDevice('server');
  devices.push(a);
  const t = await initHome();
  await t.ok(['mesh', 'on', '--no-mdns', '--listen', '/ip4/127.0.0.1/tcp/0']);
  const code = (await a.call('POST', API.meshCode, {})).body.code as string;
  await t.ok(['mesh', 'pair', code]);
  const bId = JSON.parse((await t.ok(['mesh', 'status', '--json'])).stdout.toString()).deviceId as string;
  // A first sync teaches the server this device's signing key; then the server shares with it.
  await t.ok(['mesh', 'sync']);
  const sa = await session(a);
  const docs = await sa.mkdir(null, 'Docs');
  await sa.put(docs, 'report.txt', Buffer.from('shared over the CLI'));
  const shared = await a.call('POST', API.meshShares, { path: '/Docs', with: [bId] });
  assert.equal(shared.status, 201, JSON.stringify(shared.body));
  const synced = JSON.parse((await t.ok(['mesh', 'sync', '--json'])).stdout.toString());
  assert.equal(synced.peers[0].ok, true);
  assert.equal((await t.ok(['get', '/Shares/Docs/report.txt', '-'])).stdout.toString(), 'shared over the CLI');
  const shares = JSON.parse((await t.ok(['mesh', 'shares', '--json'])).stdout.toString());
  assert.equal(shares[0].files, 1);
  // Bad input: a clear message and a non-zero exit, nothing changed.
  const bad = await t.run(['mesh', 'resolve', shares[0].id, '0'.repeat(32), 'maybe']);
  assert.equal(bad.code, 2);
  const missing = await t.run(['mesh', 'bundle', 'import', join(t.work, 'nope.bundle')]);
  assert.equal(missing.code, 4, missing.stderr.toString());
  const out = join(t.work, 'to-server.bundle');
  await t.ok(['mesh', 'bundle', 'export', '--to', a.deviceId, '--out', out]);
  const again = await t.run(['mesh', 'bundle', 'export', '--to', a.deviceId, '--out', out]);
  assert.equal(again.code, 5, 'an existing file is not overwritten');
});
