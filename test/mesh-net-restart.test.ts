/**
 * MagnetarMesh across a crash and between vaults: a paired device killed with SIGKILL and
 * restarted on the same data folder comes back by itself (its mesh was on, so the server starts
 * it at unlock; the pairing and safety number survive; the two reconnect with no help; a panic
 * takes its node down); and a
 * decoy vault has its own device identity and pairings, learning nothing of the real vault's.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { API } from '../src/server/protocol.ts';
import { AS_DECOY, initHome, removeTempDirs } from './helpers.ts';
import { eventually, startDevice } from './mesh-net-helpers.ts';
import type { Device } from './mesh-net-helpers.ts';

const devices: Device[] = [];
after(async () => {
  for (const d of devices) await d.stop();
  await removeTempDirs();
});

test('kill -9 a paired device, restart it: the mesh starts at unlock and both reconnect by themselves', { timeout: 180_000 }, async () => {
  const a = await startDevice('a');
  const b = await startDevice('b');
  devices.push(a, b);
  const paired = await b.call('POST', API.meshPair, { code: (await a.call('POST', API.meshCode, {})).body.code });
  assert.equal(paired.status, 200, JSON.stringify(paired.body));
  const onA = (id: string) => async () => ((await a.call('GET', API.meshPeers)).body.peers as any[]).find((p) => p.deviceId === id);
  await eventually(async () => (await onA(b.deviceId)())?.online, 'b online at a');

  b.child.kill('SIGKILL');
  await b.stop();
  await eventually(async () => (await onA(b.deviceId)())?.online === false, 'b offline at a after kill -9');

  // same folder, a new process (the dead one's lock is taken over); nothing turns the mesh on
  const b2 = await startDevice('b again', { home: b.t, turnOn: false });
  devices.push(b2);
  const status = await eventually(async () => {
    const s = (await b2.call('GET', API.mesh)).body;
    return s.running ? s : null;
  }, 'the mesh started at unlock');
  assert.equal(status.deviceId, b.deviceId, 'same device identity after the restart');
  const aAtB = await eventually(async () => ((await b2.call('GET', API.meshPeers)).body.peers as any[]).find((p) => p.deviceId === a.deviceId && p.online), 'a online at b again');
  assert.equal(aAtB.safetyNumber, paired.body.safetyNumber, 'the pairing survived');
  await eventually(async () => (await onA(b.deviceId)())?.online, 'b online at a again');

  // panic on b: its node stops with the vault, and a sees it go
  const panic = await fetch(b2.url + API.panic, { method: 'POST', headers: { 'x-elohim-csrf': '1' } });
  assert.ok(panic.ok, `panic answered ${panic.status}`);
  await eventually(async () => (await onA(b.deviceId)())?.online === false, 'b offline at a after its panic');
});

test('a decoy vault has its own device identity and pairings', { timeout: 120_000 }, async () => {
  const t = await initHome({ decoy: true });
  const on = await t.ok(['mesh', 'on', '--no-mdns', '--listen', '/ip4/127.0.0.1/tcp/0']);
  const realId = /device id\s+(\S+)/.exec(on.stdout.toString())![1]!;
  const decoyStatus = JSON.parse((await t.ok(['mesh', 'status', '--json'], AS_DECOY)).stdout.toString());
  assert.equal(decoyStatus.enabled, false, "the decoy's mesh is off: the real vault's being on shows nowhere");
  assert.equal(decoyStatus.deviceId, null);
  const decoyOn = await t.ok(['mesh', 'on', '--no-mdns', '--listen', '/ip4/127.0.0.1/tcp/0'], AS_DECOY);
  const decoyId = /device id\s+(\S+)/.exec(decoyOn.stdout.toString())![1]!;
  assert.notEqual(decoyId, realId);
  const real = JSON.parse((await t.ok(['mesh', 'status', '--json'])).stdout.toString());
  assert.equal(real.deviceId, realId);
  assert.equal(real.peers, 0);
  // the CLI shows a code (and a QR) and waits; nobody comes, so it ends when the code expires
  const shown = await t.run(['mesh', 'pair', '--qr', '--wait', '1']);
  assert.equal(shown.code, 3, shown.stderr.toString());
  assert.match(shown.stdout.toString(), /^\s+EM1-[0-9A-Z-]+$/m);
  assert.match(shown.stdout.toString(), /[█▀▄]/, 'a QR drawn with block characters');
  assert.match(shown.stderr.toString(), /expired/);
  assert.equal((await t.run(['mesh', 'off'], AS_DECOY)).code, 0);
  assert.equal(JSON.parse((await t.ok(['mesh', 'status', '--json'])).stdout.toString()).enabled, true, "the decoy's off leaves the real vault's on");
});
