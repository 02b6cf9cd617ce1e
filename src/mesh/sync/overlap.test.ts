/**
 * The index and the objects overlap: a receiver asks for the objects of each batch of versions
 * as soon as that batch is checked and kept, before the rest of the index is in, and the sender
 * serves them meanwhile; the session still ends only once every `want` is answered.
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import { putAt, readAt } from '../../vault/testing.ts';
import { testDevices } from '../shares/testing.ts';
import { decodeMessage, encodeMessage } from './frame.ts';

// Two batches of versions (500 a batch).
const N = 700;

test('objects of the versions received so far are served before the index ends; every want is answered', { timeout: 180_000 }, async (t) => {
  const { hub, devices: [a, b, c] } = await testDevices(t, ['Laptop', 'Phone', 'Tablet']);
  t.after(() => void (hub.tap = undefined));
  for (let i = 0; i < N; i++) await putAt(a.tv.vault, `/Many/f${i}.txt`, `file ${i}`);
  await a.shares.share('/Many', ['Phone', 'Tablet']);

  // The sender's `index-done` and `want` are held back (another message goes instead, which the
  // receiver ignores): what the receiver asks for now, it asks for before the index is in. The
  // tenth object served then cuts the connection. Without the overlap nothing is asked, nothing
  // served, and the session waits: the abort after 20 s ends it.
  let held = false;
  let servedBeforeIndexDone = 0;
  let wants = 0;
  hub.tap = (from, _to, msg) => {
    const m = decodeMessage(msg);
    if (from === a.id && (m.head.t === 'index-done' || m.head.t === 'want')) {
      held = true;
      return encodeMessage({ head: { t: 'held-back' } });
    }
    if (from === b.id && m.head.t === 'want') wants++;
    const objects = m.head.t === 'chunk' ? 1 : m.head.t === 'objs' ? (m.head.objs as unknown[]).length : 0;
    if (from === a.id && held && objects > 0 && (servedBeforeIndexDone += objects) >= 10) throw new Error('cable pulled');
    return msg;
  };
  const signal = AbortSignal.timeout(20_000);
  await assert.rejects(b.shares.sync({ only: 'Laptop', signal }));
  assert.equal(signal.aborted, false, 'nothing was asked for before the index ended');
  assert.ok(held && servedBeforeIndexDone >= 10, `served ${servedBeforeIndexDone} before index-done`);
  assert.ok(wants >= 1);

  // A whole first sync (another device): one `want` per batch with objects, and the last one at
  // index-done; each is answered with a `served`, and the session ends (fin) only after the last.
  const seen = { wants: 0, served: 0, fins: 0, finsEarly: 0, asked: new Set<string>(), wantAfterServed: false, servedByC: 0 };
  hub.tap = (from, _to, msg) => {
    const m = decodeMessage(msg);
    // Its own `served` (for the laptop's want) goes after its last want: the laptop ends its
    // half once it has its `served`, so a want after it would never be answered.
    if (from === c.id && m.head.t === 'served') seen.servedByC++;
    if (from === c.id && m.head.t === 'want') {
      if (seen.servedByC > 0) seen.wantAfterServed = true;
      seen.wants++;
      for (const w of m.head.list as { obj: string }[]) {
        assert.ok(!seen.asked.has(w.obj), 'an object asked for twice');
        seen.asked.add(w.obj);
      }
    }
    if (from === a.id && m.head.t === 'served') seen.served++;
    if (from === c.id && m.head.t === 'fin') {
      seen.fins++;
      if (seen.served !== seen.wants) seen.finsEarly++;
    }
    return msg;
  };
  await c.shares.sync({ only: 'Laptop' });
  assert.ok(seen.wants >= 2, `${seen.wants} wants`);
  assert.equal(seen.served, seen.wants);
  assert.deepEqual([seen.fins, seen.finsEarly], [1, 0], 'one fin, after every want was answered');
  assert.equal(seen.wantAfterServed, false, 'a want after this side\'s own served');
  assert.equal(seen.asked.size, N, 'every object asked for once');
  for (const i of [0, 499, 500, N - 1]) assert.equal((await readAt(c.tv.vault, `/Shares/Many/f${i}.txt`)).toString(), `file ${i}`);

  // The cut device completes too, asking only for what it lacks.
  hub.tap = undefined;
  await b.shares.sync({ only: 'Laptop' });
  for (const i of [0, 499, 500, N - 1]) assert.equal((await readAt(b.tv.vault, `/Shares/Many/f${i}.txt`)).toString(), `file ${i}`);
});
