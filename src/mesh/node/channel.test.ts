// The channel's memory rules over real libp2p (TCP on 127.0.0.1, Noise, Yamux): every message is
// the channel's own copy and `release` frees it at once; the transport's pieces are never freed
// (small messages sent back to back share a piece: each still reads right after the ones before it
// were freed); a freed buffer is refused by `send`, never sent as nothing; `sendParts` sends the
// parts as one message.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, test } from 'node:test';
import { createRecordStore, openDatabase } from '../../db/index.ts';
import { isElohimError } from '../../errors.ts';
import { VaultKey } from '../../keyring/index.ts';
import type { MeshChannel } from './channel.ts';
import { createMesh } from './service.ts';
import { MESH_RECORD_KINDS, meshKeysOf } from './store.ts';
import type { MeshRecord } from './store.ts';

const db = openDatabase(':memory:');
const stops: Array<() => Promise<void>> = [];
after(async () => {
  for (const s of stops.reverse()) await s().catch(() => {});
  db.close();
});

async function device() {
  const key = new VaultKey(randomBytes(32));
  const records = createRecordStore<MeshRecord>({ db, keys: meshKeysOf((l) => key.derive(l)), kinds: MESH_RECORD_KINDS });
  const ctl = new AbortController();
  const mesh = createMesh({ records, clock: Date.now, signal: ctl.signal, autoStart: false, audit: () => {} });
  stops.push(async () => {
    ctl.abort();
    await mesh.stop();
  });
  await mesh.enable();
  await mesh.configure({ listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false });
  return mesh;
}

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

interface Seen {
  length: number;
  sha: string;
  /** after release: how many bytes it still reads */
  lengthAfter: number;
  shaAfter: string;
  /** what send() of it did after release */
  resend: string;
}

test('release frees each message the channel copied, never the transport\'s pieces; a freed buffer is never sent; sendParts sends one message', async (t) => {
  const a = await device();
  const b = await device();
  const seen: Seen[] = [];
  b.handle('/elohim/test-release/1', async (ch: MeshChannel) => {
    for (let m = await ch.receive(); m !== null; m = await ch.receive()) {
      const s: Seen = { length: m.length, sha: sha(m), lengthAfter: -1, shaAfter: '', resend: '' };
      assert.ok(ch.release, 'a libp2p channel can release');
      ch.release(m);
      s.lengthAfter = m.length;
      s.shaAfter = sha(m);
      // The echo pattern: a reader that sends on what it received, after releasing it.
      try {
        await ch.send(m);
        s.resend = 'sent';
      } catch (err) {
        s.resend = isElohimError(err, 'INTERNAL') ? 'refused' : `failed: ${(err as Error).message}`;
        // the real message goes back, so the sender's reads stay in step
        await ch.send(Buffer.from('refused'));
      }
      seen.push(s);
    }
  });
  const { code } = a.createCode();
  await b.pair(code);
  for (let i = 0; i < 50 && a.peer(b.deviceId!) === null; i++) await new Promise((r) => setTimeout(r, 20));

  const big = randomBytes(1024 * 1024 + 17);
  // Small ones sent back to back: several arrive in one piece, each a view into it.
  const smalls = Array.from({ length: 8 }, (_, i) => randomBytes(100 + i));
  const parts = [randomBytes(10), randomBytes(300 * 1024), randomBytes(5)];
  const replies: string[] = [];
  await a.withChannel(b.deviceId!, '/elohim/test-release/1', async (ch) => {
    await ch.send(big);
    replies.push(Buffer.from((await ch.receive())!).toString());
    for (const s of smalls) await ch.send(s);
    for (const _ of smalls) replies.push(sha((await ch.receive())!));
    assert.ok(ch.sendParts, 'a libp2p channel sends parts');
    await ch.sendParts(parts);
    replies.push(Buffer.from((await ch.receive())!).toString());
  });
  t.diagnostic(JSON.stringify(seen.map((s) => [s.length, s.lengthAfter, s.resend])));

  // The 1 MiB message: the channel's own copy, read whole, then freed.
  assert.equal(seen[0]!.length, big.length);
  assert.equal(seen[0]!.sha, sha(big));
  assert.equal(seen[0]!.lengthAfter, 0, 'a copied message is freed by release');
  assert.equal(seen[0]!.resend, 'refused', 'a freed buffer is refused by send');
  assert.equal(replies[0], 'refused');
  // The small ones: each read right although the ones before it in the same piece were freed
  // (had the channel freed the transport's piece, the later ones would read empty or wrong).
  for (let i = 0; i < smalls.length; i++) {
    const s = seen[1 + i]!;
    assert.equal(s.length, smalls[i]!.length);
    assert.equal(s.sha, sha(smalls[i]!), `small message ${i} read wrong after the ones before it were released`);
    assert.equal(s.lengthAfter, 0, 'a small message is the channel\'s own copy, freed by release');
    assert.equal(s.resend, 'refused');
    assert.equal(replies[1 + i], sha(Buffer.from('refused')));
  }
  // The parts arrived as one message, in order.
  const joined = Buffer.concat(parts);
  const last = seen[1 + smalls.length]!;
  assert.equal(last.length, joined.length);
  assert.equal(last.sha, sha(joined));
  assert.equal(replies[1 + smalls.length], 'refused', 'the parts message is freed by release too');
  // Nothing the sender sent was freed.
  assert.ok(big.length > 0 && parts.every((p) => p.length > 0));
});
