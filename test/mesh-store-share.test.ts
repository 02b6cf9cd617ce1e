/**
 * A device whose data folder has a deniable store (`init --reserve`, a hidden vault behind a
 * decoy) receives a share from another over TCP on 127.0.0.1, both real `elohim serve`
 * processes: a small file and a big one (many 1 MiB chunks). The connection is cut in the middle
 * of the big file (a relay between them drops every socket after a few MiB); the next sync asks
 * for it from 0 and completes, every SHA-256 equal; the same after the store device is killed
 * (SIGKILL) in the middle of another big file and restarted. Then the store examiner of issue 9,
 * holding the decoy's passphrase and recovery codes, looks at the folder: nothing outside the store
 * (no `objects/`, no staging, no file a store folder does not have), the decoy's region has no
 * unexplained rows or objects, and every byte it cannot open looks random.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { connect, createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { after, test } from 'node:test';
import { decodeCode, encodeCode } from '../src/mesh/index.ts';
import { API, apiPath, CSRF_HEADER } from '../src/server/protocol.ts';
import { CHEAP_KDF, DECOY_PASSPHRASE, makeHome, makeTempDir, parseRecoveryCodes, PASSPHRASE, removeTempDirs, sha256 } from './helpers.ts';
import { eventually, startDevice } from './mesh-net-helpers.ts';
import type { Device } from './mesh-net-helpers.ts';
import { initDecoyArgs } from './examiner/examine.ts';
import { examineStore } from './examiner/store.ts';
import { jsonEvents } from './sse.ts';

const MiB = 1024 * 1024;
const devices: Device[] = [];
const relays: { close(): Promise<void> }[] = [];
after(async () => {
  for (const r of relays) await r.close();
  // A device that does not stop within 10 s is killed, so a failed test never holds the run.
  for (const d of devices) await Promise.race([d.stop(), new Promise<void>((r) => setTimeout(r, 10_000).unref()).then(() => d.child.kill('SIGKILL'))]);
  await removeTempDirs();
});

/**
 * A TCP relay on 127.0.0.1 to `targetPort` that, once armed with `cutAfter(n)`, destroys every
 * connection through it when n more bytes have come from the target (the cable pulled); new
 * connections pass again.
 */
async function cuttingRelay(targetPort: number) {
  const sockets = new Set<Socket>();
  let armed = -1;
  let passed = 0;
  let cuts = 0;
  const server: Server = createServer((inbound) => {
    const outbound = connect(targetPort, '127.0.0.1');
    inbound.unref();
    outbound.unref();
    sockets.add(inbound).add(outbound);
    outbound.on('data', (d: Buffer) => {
      if (armed < 0) return;
      passed += d.length;
      if (passed < armed) return;
      armed = -1;
      cuts++;
      for (const s of sockets) s.destroy();
    });
    inbound.pipe(outbound).pipe(inbound);
    const end = () => {
      sockets.delete(inbound.destroy());
      sockets.delete(outbound.destroy());
    };
    inbound.on('error', end).on('close', end);
    outbound.on('error', end).on('close', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  server.unref(); // the test closes it; this is the backstop
  const relay = {
    port: (server.address() as { port: number }).port,
    cutAfter(n: number) {
      passed = 0;
      armed = n;
    },
    cuts: () => cuts,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  relays.push(relay);
  return relay;
}

/** Runs a sync on `d` through the SSE route; resolves with every event, rejects on `error`. */
async function sync(d: Device, onEvent?: (event: string, data: any) => void): Promise<{ event: string; data: any }[]> {
  const login = await fetch(d.url + API.session, { method: 'POST', headers: { 'content-type': 'application/json', [CSRF_HEADER]: 'test' }, body: JSON.stringify({ passphrase: PASSPHRASE }) });
  const headers = { cookie: login.headers.get('set-cookie')!.split(';')[0]!, [CSRF_HEADER]: ((await login.json()) as { csrfToken: string }).csrfToken, 'content-type': 'application/json' };
  const res = await fetch(d.url + API.meshSync, { method: 'POST', headers, body: '{}' });
  if (res.status !== 200) throw new Error(`sync answered ${res.status}: ${await res.text()}`);
  const events: { event: string; data: any }[] = [];
  for await (const { event, data } of jsonEvents(res.body!)) {
    events.push({ event, data });
    onEvent?.(event, data);
    if (event === 'done') return events;
    if (event === 'error') throw Object.assign(new Error(data.message), { code: data.code });
  }
  throw new Error('the sync stream ended without done');
}

/** name → SHA-256 of every file in the folder at `path` of `d`'s unlocked vault (null: no such folder). */
async function filesAt(d: Device, path: string[]): Promise<Record<string, string> | null> {
  const login = await fetch(d.url + API.session, { method: 'POST', headers: { 'content-type': 'application/json', [CSRF_HEADER]: 'test' }, body: JSON.stringify({ passphrase: PASSPHRASE }) });
  const headers = { cookie: login.headers.get('set-cookie')!.split(';')[0]!, [CSRF_HEADER]: ((await login.json()) as { csrfToken: string }).csrfToken };
  const list = async (parent: string | null) => (await d.call('GET', (parent === null ? API.items : `${API.items}?parent=${parent}`) as never)).body.items as { id: string; name: string; kind: string }[];
  let id: string | null = null;
  for (const name of path) {
    const found: { id: string } | undefined = (await list(id)).find((i) => i.name === name && i.kind === 'folder');
    if (found === undefined) return null;
    id = found.id;
  }
  const out: Record<string, string> = {};
  for (const item of await list(id)) {
    if (item.kind === 'file') out[item.name] = sha256(Buffer.from(await (await fetch(d.url + apiPath(API.content, item.id), { headers })).arrayBuffer()));
  }
  return out;
}

test('a store folder receives a share over TCP; a cut mid-file, and a kill -9 mid-file, start that file again from 0 and the next sync has every SHA-256 equal; the examiner with the decoy passphrase finds nothing outside the store', { timeout: 300_000 }, async () => {
  const sharer = await startDevice('sharer');
  devices.push(sharer);
  const t = await makeHome();
  const init = await t.ok(['init', ...CHEAP_KDF, '--decoy', '--reserve', '192M'], { env: { ELOHIM_DECOY_PASSPHRASE: DECOY_PASSPHRASE } });
  const decoyCodes = parseRecoveryCodes(init.stdout.toString('utf8'), 'Recovery codes of the DECOY vault:');
  assert.ok(decoyCodes.length > 0, 'the decoy recovery codes are printed');
  await writeFile(join(t.work, 'decoy-notes.txt'), 'the decoy vault in use');
  await t.ok(['put', join(t.work, 'decoy-notes.txt'), '/'], { env: { ELOHIM_PASSPHRASE: DECOY_PASSPHRASE } });
  // The hidden vault (PASSPHRASE) is the one the server unlocks and that receives the share.
  const store = await startDevice('store', { home: t });
  devices.push(store);

  // The store device pairs with the sharer through the relay, so its connection can be cut.
  const shown = await sharer.call('POST', API.meshCode, {});
  const sharerPort = Number(/\/tcp\/(\d+)/.exec((await sharer.call('GET', API.mesh)).body.addresses[0])![1]);
  const relay = await cuttingRelay(sharerPort);
  const viaRelay = encodeCode({ ...decodeCode(shown.body.code), addrs: [Buffer.from([0x04, 127, 0, 0, 1, 0x06, relay.port >> 8, relay.port & 0xff])] });
  const paired = await store.call('POST', API.meshPair, { code: viaRelay });
  assert.equal(paired.status, 200, JSON.stringify(paired.body));
  await eventually(async () => ((await sharer.call('GET', API.meshPeers)).body.peers as { deviceId: string }[]).some((p) => p.deviceId === store.deviceId), 'the sharer lists the store device');
  await sync(store); // each learns the other's signing key

  const big = randomBytes(24 * MiB + 4321);
  const folder = (await sharer.call('POST', API.folders, { parent: null, name: 'Team' })).body.item.id as string;
  const login = await fetch(sharer.url + API.session, { method: 'POST', headers: { 'content-type': 'application/json', [CSRF_HEADER]: 'test' }, body: JSON.stringify({ passphrase: PASSPHRASE }) });
  const headers = { cookie: login.headers.get('set-cookie')!.split(';')[0]!, [CSRF_HEADER]: ((await login.json()) as { csrfToken: string }).csrfToken, 'content-type': 'application/octet-stream' };
  for (const [name, body] of [['small.txt', Buffer.from('a small file')], ['big.bin', big]] as const) {
    const put = await fetch(`${sharer.url}${API.files}?parent=${folder}&name=${name}`, { method: 'PUT', headers, body });
    assert.equal(put.status, 201, await put.text());
  }
  const shared = await sharer.call('POST', API.meshShares, { path: '/Team', with: [store.deviceId] });
  assert.equal(shared.status, 201, JSON.stringify(shared.body));

  // The cable is pulled 6 MiB into the transfer: in the middle of the big file.
  relay.cutAfter(6 * MiB);
  const cut = await sync(store).catch((err: Error) => [{ event: 'error', data: { message: err.message } }]);
  assert.equal(relay.cuts(), 1, 'the connection was cut');
  assert.ok(cut.some((e) => e.event === 'peer-failed' || e.event === 'error'), JSON.stringify(cut));
  const partly = await filesAt(store, ['Shares', 'Team']);
  assert.equal(partly?.['big.bin'], undefined, 'the big file is not shown after the cut');

  // The next sync asks for the big file from 0 (it sends all of it again) and completes.
  const again = await sync(store);
  const done = again.find((e) => e.event === 'peer-done' && e.data.peer === sharer.deviceId);
  assert.ok(done !== undefined, JSON.stringify(again));
  assert.ok(done.data.bytes >= big.length, `the big file came again from 0 (${done.data.bytes} bytes of ${big.length})`);
  assert.deepEqual(await filesAt(store, ['Shares', 'Team']), { 'small.txt': sha256('a small file'), 'big.bin': sha256(big) });

  // Another big file; the store device is killed (SIGKILL) in the middle of it, restarted, and
  // the sync completes: the blocks its write had taken, named by no entry, are free again.
  const big2 = randomBytes(48 * MiB + 77);
  const put2 = await fetch(`${sharer.url}${API.files}?parent=${folder}&name=big2.bin`, { method: 'PUT', headers, body: big2 });
  assert.equal(put2.status, 201, await put2.text());
  let killedAt = -1;
  await sync(store, (event, data) => {
    if (killedAt < 0 && event === 'progress' && data.progress?.bytes > 4 * MiB) {
      killedAt = data.progress.bytes;
      store.child.kill('SIGKILL');
    }
  }).catch(() => {});
  assert.ok(killedAt > 0 && killedAt < big2.length, `killed mid-file (${killedAt})`);
  await store.stop();
  const restarted = await startDevice('store', { home: t });
  devices.push(restarted);
  const third = await sync(restarted);
  const done2 = third.find((e) => e.event === 'peer-done' && e.data.peer === sharer.deviceId);
  assert.ok(done2 !== undefined && done2.data.bytes >= big2.length, JSON.stringify(third));
  assert.deepEqual(await filesAt(restarted, ['Shares', 'Team']), { 'small.txt': sha256('a small file'), 'big.bin': sha256(big), 'big2.bin': sha256(big2) });

  // Closed, the folder is handed over with the decoy's passphrase and recovery codes.
  await restarted.stop();
  const names = (await readdir(t.home, { recursive: true })).sort();
  assert.deepEqual(names.filter((n) => !['config.json', 'keyslots.bin', 'lock', 'reserve', 'store.bin', 'unlock-throttle.json'].includes(n)), [], `only a store folder's files: ${names.join(', ')}`);
  const { report } = await examineStore(t.home, { passphrase: DECOY_PASSPHRASE, recoveryCodes: decoyCodes }, await makeTempDir('elohim-examiner-'), { addDecoyArgs: await initDecoyArgs(), toleranceMs: 2000 });
  const say = (what: string) => `${what}: ${JSON.stringify(report, null, 1).slice(0, 3000)}`;
  assert.equal(report['deniableStore.size'], 192 * MiB, say('the store keeps its size'));
  assert.deepEqual(report['deniableStore.regionsTheVaultOpens'], [1], say('the decoy is the front vault'));
  assert.equal(report['deniableStore.otherRegion'], 'random', say('the hidden region, share and all, looks random'));
  assert.equal(report['deniableStore.unusedBlocksOfItsRegion'], 'random', say('the decoy region\'s unused blocks look random'));
  assert.equal(report['unexplainedData.rowsInItsRegion'], 0, say('no rows the decoy does not explain'));
  assert.equal(report['unexplainedData.objectsInItsRegion'], 0, say('no objects the decoy does not explain'));
  assert.deepEqual(Object.keys(report).filter((k) => k.startsWith('fileLayout.') && !/^fileLayout\.(config\.json|keyslots\.bin|lock|reserve|store\.bin|unlock-throttle\.json|\.)(\.content)?$/.test(k)), [], say('no file outside the store'));
});
