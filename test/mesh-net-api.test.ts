/**
 * The mesh API's boundary (routes/mesh.ts) through inject(): bad input is a 4xx with our error
 * format and changes nothing; the mesh off answers MESH_OFF; unknown devices 404; the routes are in
 * the OpenAPI document; and the Devices screen's polls do not keep an idle vault from locking.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { API, apiPath } from '../src/server/protocol.ts';
import { assertError, call, openSession, simple, startServer } from './http-helpers.ts';
import type { TestServer, TestSession } from './http-helpers.ts';

const UNKNOWN_DEVICE = '12D3KooWLDgb4cpLB5Di95fLVcGUrqswdNxmJanPwSjaPNr8PFiM';

describe('mesh API', () => {
  let t: TestServer;
  let s: TestSession;
  before(async () => {
    t = await startServer();
    s = await openSession(t.app);
  });
  after(() => t.stop());
  const req = async (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, json?: unknown) => {
    const res = simple(await call(t.app, method, url, { session: s, json }));
    return { ...res, json: res.body.length > 0 ? JSON.parse(res.body) : null };
  };

  test('off by default: no identity, and pairing answers MESH_OFF', async () => {
    const status = await req('GET', API.mesh);
    assert.equal(status.status, 200);
    assert.equal(status.json.enabled, false);
    assert.equal(status.json.deviceId, null);
    assertError(await req('POST', API.meshCode, {}), 409, 'MESH_OFF');
    assertError(await req('POST', API.meshPair, { code: 'EM1-00000' }), [400, 409], ['MESH_CODE_INVALID', 'MESH_OFF']);
  });

  test('bad settings are refused and change nothing', async () => {
    for (const body of [{ listen: ['nope'] }, { listen: 'x' }, { listen: [] }, { relay: '/ip4/10.0.0.1/tcp/4001' }, { mdns: 'yes' }, { other: 1 }, { listen: ['/ip4/127.0.0.1/udp/5/quic'] }]) {
      const res = await req('POST', API.meshOn, body);
      assert.ok(res.status === 400, `${JSON.stringify(body)} → ${res.status} ${JSON.stringify(res.json)}`);
      assert.ok(typeof res.json.error.code === 'string');
    }
    const status = await req('GET', API.mesh);
    assert.equal(status.json.enabled, false, 'still off');
    assert.deepEqual(status.json.settings.listen, ['/ip4/0.0.0.0/tcp/0'], 'settings unchanged');
  });

  test('on; then codes, devices and unpair validate their input', async () => {
    const on = await req('POST', API.meshOn, { listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false });
    assert.equal(on.status, 200, JSON.stringify(on.json));
    assert.equal(on.json.running, true);
    assert.match(on.json.deviceId, /^12D3KooW/);
    for (const ttlSeconds of [0, 601, 1.5, '60']) assertError(await req('POST', API.meshCode, { ttlSeconds }), 400, 'INVALID_INPUT');
    const code = await req('POST', API.meshCode, { ttlSeconds: 60 });
    assert.equal(code.status, 200);
    assert.ok(code.json.expires - Date.now() <= 60_000);
    assertError(await req('POST', API.meshPair, { code: code.json.code }), 400, 'MESH_CODE_INVALID'); // its own code
    assertError(await req('POST', API.meshPair, {}), 400, 'INVALID_INPUT');
    assertError(await req('POST', API.meshPair, { code: 'x'.repeat(1201) }), 400, 'INVALID_INPUT');
    assertError(await req('POST', apiPath(API.meshPeerVerify, 'not-a-device')), 400, 'INVALID_INPUT');
    assertError(await req('POST', apiPath(API.meshPeerVerify, UNKNOWN_DEVICE)), 404, 'MESH_PEER_UNKNOWN');
    assertError(await req('POST', apiPath(API.meshPeerUnpair, UNKNOWN_DEVICE), {}), 404, 'MESH_PEER_UNKNOWN');
    assertError(await req('POST', apiPath(API.meshPeerAddress, UNKNOWN_DEVICE), { addr: '/ip4/127.0.0.1/tcp/1' }), 404, 'MESH_PEER_UNKNOWN');
    // revoking a device never paired is allowed (refuse it before it ever asks)
    assert.equal((await req('POST', apiPath(API.meshPeerUnpair, UNKNOWN_DEVICE), { revoke: true })).status, 204);
    const off = await req('POST', API.meshOff);
    assert.equal(off.json.enabled, false);
    assert.equal(off.json.running, false);
  });

  test('every mesh route is in the OpenAPI document', async () => {
    const doc = JSON.parse(simple(await call(t.app, 'GET', '/api/v1/openapi.json')).body) as { paths: Record<string, unknown> };
    for (const [name, path] of Object.entries(API)) {
      if (!name.startsWith('mesh')) continue;
      const documented = path.replace(':id', '{id}');
      assert.ok(doc.paths[documented] !== undefined, `${path} in OpenAPI`);
    }
  });
});

test('polling the mesh status does not keep an idle vault unlocked', async () => {
  const t = await startServer({ autoLockMs: 500 });
  try {
    const s = await openSession(t.app);
    let locked = false;
    for (let i = 0; i < 30 && !locked; i++) {
      await sleep(100);
      const res = simple(await call(t.app, 'GET', API.mesh, { session: s }));
      simple(await call(t.app, 'GET', API.meshPeers, { session: s }));
      locked = res.status === 401;
    }
    assert.equal(locked, true, 'still unlocked after 3 s of nothing but mesh polls (auto-lock after 0.5 s idle)');
  } finally {
    await t.stop();
  }
});

test('auto-lock stops the vault mesh node: its port closes', async () => {
  // long enough for turning the mesh on (which loads libp2p) to finish before the vault idles out
  const t = await startServer({ autoLockMs: 3000 });
  try {
    const s = await openSession(t.app);
    const on = simple(await call(t.app, 'POST', API.meshOn, { session: s, json: { listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false } }));
    assert.equal(on.status, 200, on.body);
    const port = Number(/\/tcp\/(\d+)/.exec((JSON.parse(on.body) as { addresses: string[] }).addresses[0]!)![1]);
    // Whether anything listens on that port, from the kernel's table (connecting to find out would
    // trip libp2p's per-host inbound rate limit).
    const accepts = async () =>
      (await readFile('/proc/net/tcp', 'utf8'))
        .split('\n')
        .slice(1)
        .some((line) => {
          const [, local, , state] = line.trim().split(/\s+/);
          return state === '0A' && local !== undefined && parseInt(local.split(':')[1]!, 16) === port;
        });
    assert.equal(await accepts(), true, 'the node listens while the vault is open');
    let closed = false;
    for (let i = 0; i < 120 && !closed; i++) {
      await sleep(100);
      closed = !(await accepts());
    }
    assert.equal(closed, true, 'the node stopped listening after the vault locked itself');
    const after = simple(await call(t.app, 'GET', API.mesh, { session: s }));
    assert.equal(after.status, 401, `and the session is gone: ${after.status} ${after.body.slice(0, 300)}`);
  } finally {
    await t.stop();
  }
});
