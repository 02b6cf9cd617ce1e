/**
 * MagnetarMesh between three real `elohim serve` processes (each its own ELOHIM_HOME and port)
 * over TCP on 127.0.0.1: pairing by code with one safety number on both sides, wrong, expired,
 * reused and withdrawn codes pairing nothing, an unpaired and a revoked device refused at the
 * gate (the gate's own record shows it), unpair told to the other side, audit entries, and the
 * bytes on the wire (through a recording relay) carrying no plaintext.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { decodeCode, encodeCode } from '../src/mesh/index.ts';
import { API } from '../src/server/protocol.ts';
import { removeTempDirs } from './helpers.ts';
import { eventually, recordingRelay, startDevice } from './mesh-net-helpers.ts';
import type { Device } from './mesh-net-helpers.ts';

const devices: Device[] = [];
after(async () => {
  for (const d of devices) await d.stop();
  await removeTempDirs();
});

async function device(name: string) {
  const d = await startDevice(name);
  devices.push(d);
  return d;
}

const refusals = async (at: Device, from: Device, reason: string) =>
  ((await at.call('GET', API.mesh)).body.gate.recent as { deviceId: string; reason: string }[]).filter((r) => r.deviceId === from.deviceId && r.reason === reason).length;

test('three devices: pair, refuse, revoke, and nothing readable on the wire', { timeout: 180_000 }, async () => {
  const [a, b, c] = await Promise.all([device('a'), device('b'), device('c')]);
  assert.notEqual(a.deviceId, b.deviceId);

  // --- a device's name is the user's to give; a name other devices could not show is refused
  const named = (await a.call('GET', API.mesh)).body.name as string;
  assert.match(named, /^test device a [0-9a-f]{12}$/);
  for (const bad of ['', ' ', 'a/b', 'x'.repeat(49), 'tab\there', 'rtl\u202Eexe']) {
    const refused = await a.call('PATCH', API.meshSettings, { name: bad });
    assert.equal(refused.status, 400, `${JSON.stringify(bad)}: ${JSON.stringify(refused.body)}`);
  }
  assert.equal((await a.call('GET', API.mesh)).body.name, named, 'a refused name changes nothing');

  // --- b pairs with a, through a relay that records every byte between them
  const shown = await a.call('POST', API.meshCode, {});
  assert.equal(shown.status, 200);
  assert.match(shown.body.code, /^EM1(-[0-9A-HJKMNP-TV-Z]{1,5})+$/);
  assert.ok(shown.body.expires - Date.now() <= 600_000 && shown.body.expires - Date.now() > 590_000, 'good for ten minutes');
  const parsed = decodeCode(shown.body.code);
  const aPort = Number(/\/tcp\/(\d+)/.exec((await a.call('GET', API.mesh)).body.addresses[0])![1]);
  const relay = await recordingRelay(aPort);
  const viaRelay = encodeCode({ ...parsed, addrs: [Buffer.from([0x04, 127, 0, 0, 1, 0x06, relay.port >> 8, relay.port & 0xff])] });
  const paired = await b.call('POST', API.meshPair, { code: viaRelay });
  assert.equal(paired.status, 200, JSON.stringify(paired.body));
  assert.equal(paired.body.deviceId, a.deviceId);
  const bOnA = await eventually(async () => ((await a.call('GET', API.meshPeers)).body.peers as any[]).find((p) => p.deviceId === b.deviceId), 'a lists b');
  assert.match(paired.body.safetyNumber, /^(\d{5} ){11}\d{5}$/);
  assert.equal(bOnA.safetyNumber, paired.body.safetyNumber, 'both devices show the same safety number');
  assert.equal(bOnA.verified, false);
  assert.equal((await b.call('POST', API.meshPeerVerify, undefined, a.deviceId)).body.verified, true);
  // the wire: Noise is negotiated in the clear; the pairing protocol, the code's secret, the age
  // recipients and the device names never are
  const wire = relay.bytes();
  assert.ok(wire.includes('/noise'), 'the relay saw the connection');
  for (const secret of ['/elohim/pair/1', Buffer.from(parsed.secret), ...bOnA.recipients, ...paired.body.recipients, bOnA.name, paired.body.name]) {
    assert.equal(wire.includes(secret), false, `plaintext on the wire: ${String(secret).slice(0, 30)}`);
  }
  await relay.close();

  // --- the same code again, from c: already used
  const reused = await c.call('POST', API.meshPair, { code: shown.body.code });
  assert.equal(reused.status, 409, JSON.stringify(reused.body));
  assert.equal(reused.body.error.code, 'MESH_CODE_USED');
  assert.match(reused.body.error.message, /already used/);

  // --- wrong codes: a typo (caught by the code's check), a well-formed code with another secret
  const fresh = (await a.call('POST', API.meshCode, {})).body.code as string;
  const typo = fresh.slice(0, 10) + (fresh[10] === 'A' ? 'B' : 'A') + fresh.slice(11);
  const typoed = await c.call('POST', API.meshPair, { code: typo });
  assert.equal(typoed.status, 400);
  assert.equal(typoed.body.error.code, 'MESH_CODE_INVALID');
  assert.match(typoed.body.error.message, /mistyped|not in codes/);
  const otherSecret = encodeCode({ ...decodeCode(fresh), secret: new Uint8Array(16).fill(7) });
  const wrong = await c.call('POST', API.meshPair, { code: otherSecret });
  assert.equal(wrong.status, 400, JSON.stringify(wrong.body));
  assert.match(wrong.body.error.message, /does not know this pairing code/);
  const garbage = await c.call('POST', API.meshPair, { code: 'hello' });
  assert.equal(garbage.status, 400);
  const notAString = await c.call('POST', API.meshPair, { code: 42 });
  assert.equal(notAString.status, 400);

  // --- expired: a code of one second, used after it ended
  const brief = (await a.call('POST', API.meshCode, { ttlSeconds: 1 })).body.code as string;
  await new Promise((r) => setTimeout(r, 1_200));
  const expired = await c.call('POST', API.meshPair, { code: brief });
  assert.equal(expired.status, 410);
  assert.equal(expired.body.error.code, 'MESH_CODE_EXPIRED');

  // --- withdrawn: a shows no code; c (never paired) is refused at a's gate, before any protocol
  const withdrawn = (await a.call('POST', API.meshCode, {})).body.code as string;
  assert.equal((await a.call('DELETE', API.meshCode)).status, 204);
  const before = await refusals(a, c, 'not paired');
  const refused = await c.call('POST', API.meshPair, { code: withdrawn });
  assert.equal(refused.status, 409, JSON.stringify(refused.body));
  assert.match(refused.body.error.message, /refused the connection/);
  assert.ok((await refusals(a, c, 'not paired')) > before, "c is in a's gate log as refused, not paired");
  assert.equal((await c.call('GET', API.meshPeers)).body.peers.length, 0, 'nothing was paired');
  assert.deepEqual(((await a.call('GET', API.meshPeers)).body.peers as any[]).map((p) => p.deviceId), [b.deviceId]);

  // --- c pairs properly; then a revokes c: c is told, and refused at a's gate from then on
  const third = await c.call('POST', API.meshPair, { code: (await a.call('POST', API.meshCode, {})).body.code });
  assert.equal(third.status, 200, JSON.stringify(third.body));
  await eventually(async () => ((await a.call('GET', API.meshPeers)).body.peers as any[]).length === 2, 'a has two paired devices');
  await eventually(async () => ((await a.call('GET', API.meshPeers)).body.peers as any[]).find((p) => p.deviceId === c.deviceId)?.online, 'c online at a');
  assert.equal((await a.call('POST', API.meshPeerUnpair, { revoke: true }, c.deviceId)).status, 204);
  await eventually(async () => (await c.call('GET', API.meshPeers)).body.peers.length === 0, 'c heard it was unpaired');
  const revokedBefore = await refusals(a, c, 'revoked');
  const again = await c.call('POST', API.meshPair, { code: (await a.call('POST', API.meshCode, {})).body.code });
  assert.notEqual(again.status, 200, 'a revoked device cannot pair again, even with a fresh code');
  assert.ok((await refusals(a, c, 'revoked')) > revokedBefore, "c is in a's gate log as refused, revoked");
  assert.deepEqual(((await a.call('GET', API.meshPeers)).body.peers as any[]).map((p) => p.deviceId), [b.deviceId]);

  // --- b and a stay paired and online, with a latency measured by ping
  const aOnB = await eventually(async () => ((await b.call('GET', API.meshPeers)).body.peers as any[]).find((p) => p.online && p.latencyMs !== null), 'a online at b with a latency');
  assert.equal(aOnB.deviceId, a.deviceId);

  // --- audited on each side
  const events = async (d: Device) => ((await d.call('GET', API.audit)).body.entries as { event: string }[]).map((e) => e.event);
  const aEvents = await events(a);
  for (const e of ['mesh-on', 'pairing', 'unpairing', 'revocation']) assert.ok(aEvents.includes(e), `a audited ${e}: ${aEvents.join(',')}`);
  assert.ok((await events(c)).includes('unpairing'));
  assert.equal((await events(b)).filter((e) => e === 'pairing').length, 1);

  // --- lock stops the node: b sees a go offline
  assert.equal((await a.call('DELETE', API.session)).status, 204);
  await eventually(async () => ((await b.call('GET', API.meshPeers)).body.peers as any[]).find((p) => p.deviceId === a.deviceId && !p.online), 'a offline at b after lock');
});
