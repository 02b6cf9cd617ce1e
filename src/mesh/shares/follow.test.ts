/**
 * A share follows its folder's vault item, and its name can change: between real vaults over
 * the in-memory mesh (testing.ts).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import test from 'node:test';
import { putAt, readAt } from '../../vault/testing.ts';
import { decodeMessage } from '../sync/frame.ts';
import { canonical, renameShareRecord } from './keys.ts';
import type { ShareRecord } from './keys.ts';
import { openSyncStore } from './store.ts';
import { testDevice } from './testing.ts';
import type { MemoryHub, TestDevice } from './testing.ts';

async function pair(t: test.TestContext) {
  const hub: MemoryHub = { devices: new Map() };
  const all: TestDevice[] = [];
  const a = await testDevice(hub, 'Laptop', all);
  const b = await testDevice(hub, 'Phone', all);
  t.after(async () => {
    for (const d of all) await d.close();
  });
  return { hub, all, a, b };
}

function exists(d: TestDevice, path: string): boolean {
  try {
    d.tv.vault.resolve(path);
    return true;
  } catch {
    return false;
  }
}

function files(d: TestDevice, folder: string): string[] {
  const out: string[] = [];
  const walk = (id: string | null, prefix: string) => {
    for (const c of d.tv.vault.children(id)) {
      if (c.kind === 'folder') walk(c.id, `${prefix}${c.name}/`);
      else out.push(`${prefix}${c.name}`);
    }
  };
  const root = d.tv.vault.resolve(folder);
  assert.notEqual(root, null, `${folder} exists`);
  walk(root, '');
  return out.sort();
}

test('a shared folder moved and renamed in the vault stays shared and keeps syncing, both ways, on both devices', async (t) => {
  const { a, b } = await pair(t);
  await putAt(a.tv.vault, '/Team/plan.txt', 'v1');
  await putAt(a.tv.vault, '/Team/sub/notes.md', 'notes');
  const { id } = await a.shares.share('/Team', ['Phone']);
  await a.shares.sync();
  assert.deepEqual(files(b, '/Shares/Team'), ['plan.txt', 'sub/notes.md']);

  // The laptop moves the folder into another and renames it, then edits inside it.
  const projects = a.tv.vault.mkdir(null, 'Projects');
  a.tv.vault.update(a.tv.vault.resolve('/Team')!, { name: 'Team 2026', parent: projects.id });
  await putAt(a.tv.vault, '/Projects/Team 2026/plan.txt', 'v2 after the move', { replace: true });
  await putAt(a.tv.vault, '/Projects/Team 2026/new.txt', 'added after the move');
  await a.shares.sync();
  assert.equal(exists(a, '/Team'), false, 'no folder is made again at the old path');
  assert.equal(a.shares.get(id).folder, '/Projects/Team 2026');
  assert.deepEqual(files(a, '/Projects/Team 2026'), ['new.txt', 'plan.txt', 'sub/notes.md']);
  assert.deepEqual(files(b, '/Shares/Team'), ['new.txt', 'plan.txt', 'sub/notes.md'], 'nothing deleted on the phone');
  assert.equal((await readAt(b.tv.vault, '/Shares/Team/plan.txt')).toString(), 'v2 after the move');
  assert.equal(b.tv.vault.trashList().filter((x) => x.name !== 'plan.txt').length, 0, 'only the replaced plan.txt is in the trash');

  // The phone moves its copy out of /Shares and edits there: the laptop gets the edit.
  const work = b.tv.vault.mkdir(null, 'Work');
  b.tv.vault.update(b.tv.vault.resolve('/Shares/Team')!, { parent: work.id });
  await putAt(b.tv.vault, '/Work/Team/sub/notes.md', 'edited on the phone', { replace: true });
  await b.shares.sync();
  assert.equal((await readAt(a.tv.vault, '/Projects/Team 2026/sub/notes.md')).toString(), 'edited on the phone');
  assert.deepEqual(files(a, '/Projects/Team 2026'), ['new.txt', 'plan.txt', 'sub/notes.md']);
  assert.equal(exists(b, '/Shares/Team'), false);
  assert.equal(b.shares.list()[0]!.folder, '/Work/Team');

  // Where it went is kept in the share's record (a restart finds it by its item).
  const reread = [...openSyncStore(b.syncRecords).shares.values()][0]!;
  assert.equal(reread.item, b.tv.vault.resolve('/Work/Team'));
  assert.equal(reread.folder, '/Work/Team');

  // Sharing the moved folder again (by its new path) adds to the same share, not a second one.
  assert.equal(a.shares.list().length, 1);
});

test('a shared folder moved to the trash pauses the share on that device only: nothing is deleted elsewhere; restored, it resumes; a folder made in its place is filled again', async (t) => {
  const { a, b } = await pair(t);
  await putAt(a.tv.vault, '/Team/plan.txt', 'v1');
  await putAt(a.tv.vault, '/Team/notes.md', 'notes');
  const { id } = await a.shares.share('/Team', ['Phone']);
  await a.shares.sync();

  // The member trashes its copy (as one might to leave the share): the owner loses nothing.
  const trashed = b.tv.vault.trash(b.tv.vault.resolve('/Shares/Team')!);
  await b.shares.sync();
  await a.shares.sync();
  assert.deepEqual(files(a, '/Team'), ['notes.md', 'plan.txt']);
  assert.equal(a.tv.vault.trashList().length, 0, 'nothing trashed on the owner');
  assert.equal(b.shares.get(id).paused, true);
  assert.equal(exists(b, '/Shares/Team'), false, 'not made again while paused');
  // Edits meanwhile still reach it once the folder is restored from the trash.
  await putAt(a.tv.vault, '/Team/plan.txt', 'v2 while paused', { replace: true });
  await a.shares.sync();
  b.tv.vault.restore(trashed.id);
  await b.shares.sync();
  assert.equal(b.shares.get(id).paused, false);
  assert.deepEqual(files(b, '/Shares/Team'), ['notes.md', 'plan.txt']);
  assert.equal((await readAt(b.tv.vault, '/Shares/Team/plan.txt')).toString(), 'v2 while paused');

  // The owner trashes its folder and makes a new one in its place: filled again, nothing deleted.
  a.tv.vault.trash(a.tv.vault.resolve('/Team')!);
  await a.shares.sync();
  assert.equal(a.shares.get(id).paused, true);
  assert.deepEqual(files(b, '/Shares/Team'), ['notes.md', 'plan.txt'], 'nothing deleted on the member');
  a.tv.vault.mkdir(null, 'Team');
  await a.shares.sync();
  assert.equal(a.shares.get(id).paused, false);
  assert.deepEqual(files(a, '/Team'), ['notes.md', 'plan.txt']);
  assert.equal((await readAt(a.tv.vault, '/Team/plan.txt')).toString(), 'v2 while paused');
  assert.deepEqual(files(b, '/Shares/Team'), ['notes.md', 'plan.txt']);
});

test('the owner renames a share: members take the name at their next sync and their /Shares folder follows; anyone else, or a bad name, is refused with nothing changed', async (t) => {
  const { a, b } = await pair(t);
  await putAt(a.tv.vault, '/Team/plan.txt', 'v1');
  const { id } = await a.shares.share('/Team', ['Phone']);
  await a.shares.sync();
  assert.equal(b.shares.get(id).folder, '/Shares/Team');
  const renames = (d: TestDevice) => d.audit.list({ event: 'share' }).entries.filter((e) => e.details.action === 'rename');

  // A member that is not the owner cannot rename it, nor change its members; bad names are refused.
  await assert.rejects(async () => b.shares.rename(id, 'Mine now'), (e: { code?: string }) => e.code === 'SHARE_READ_ONLY');
  await assert.rejects(async () => b.shares.removeMember(id, 'Laptop'), (e: { code?: string }) => e.code === 'SHARE_READ_ONLY');
  await assert.rejects(b.shares.share('/Shares/Team', ['Laptop']), (e: { code?: string }) => e.code === 'SHARE_READ_ONLY');
  for (const bad of ['', '   ', 'a/b', '..', 'trailing.', 'x'.repeat(300), '\u202Egnp.exe', 42 as unknown as string]) {
    await assert.rejects(async () => a.shares.rename(id, bad), (e: { code?: string }) => e.code === 'INVALID_NAME', `refused: ${String(bad).slice(0, 20)}`);
  }
  await assert.rejects(async () => a.shares.rename('ffffffffffff', 'Other'), (e: { code?: string }) => e.code === 'SHARE_NOT_FOUND');
  assert.equal(a.shares.get(id).name, 'Team');
  assert.equal(renames(a).length + renames(b).length, 0, 'nothing audited');

  const renamed = a.shares.rename(id, 'Clinic Team');
  assert.equal(renamed.name, 'Clinic Team');
  assert.equal(renamed.folder, '/Team', "the owner's own folder keeps its name");
  assert.deepEqual(renames(a).map((e) => e.details), [{ action: 'rename', folder: '/Team', from: 'Team', name: 'Clinic Team' }]);
  await a.shares.sync();
  assert.equal(b.shares.get(id).name, 'Clinic Team');
  assert.equal(b.shares.get(id).folder, '/Shares/Clinic Team');
  assert.deepEqual(files(b, '/Shares/Clinic Team'), ['plan.txt']);
  assert.equal(exists(b, '/Shares/Team'), false);
  assert.equal(b.tv.vault.trashList().length, 0, 'nothing trashed on the phone');

  // A folder the member renamed itself keeps that name; the share's name still changes.
  b.tv.vault.update(b.tv.vault.resolve('/Shares/Clinic Team')!, { name: 'My clinic' });
  a.shares.rename(id, 'Third name');
  await a.shares.sync();
  assert.equal(b.shares.get(id).name, 'Third name');
  assert.equal(b.shares.get(id).folder, '/Shares/My clinic');
  assert.deepEqual(files(b, '/Shares/My clinic'), ['plan.txt']);

  // A record renamed and signed by a member that is not the owner is refused, and changes nothing.
  const hello = b.shares.engine.hello(a.id).head as unknown as Record<string, unknown> & { shares: { record: ShareRecord }[] };
  const { sig: _sig, t: _t, v: _v, ...body } = hello;
  body.shares = [{ ...hello.shares[0]!, record: renameShareRecord(b.shares.signer, hello.shares[0]!.record, randomBytes(32), 'Forged') }];
  const forged = { head: { ...body, t: 'hello', v: 1, sig: b.shares.signer.sign(canonical(body)) } };
  assert.throws(() => a.shares.engine.acceptHello(forged, b.id), (e: { code?: string; message?: string }) => e.code === 'SYNC_REJECTED' && /signature/.test(e.message ?? ''));
  assert.equal(a.shares.get(id).name, 'Third name');
});

test('with the owner away, members still sync the share with each other', async (t) => {
  const { hub, all, a, b } = await pair(t);
  const c = await testDevice(hub, 'Tablet', all);
  await putAt(a.tv.vault, '/Team/plan.txt', 'v1');
  await a.shares.sync(); // each device learns the others' keys
  await c.shares.sync();
  await a.shares.share('/Team', ['Phone', 'Tablet']);
  await a.shares.sync();
  hub.devices.get(a.id)!.online = false;
  await putAt(b.tv.vault, '/Shares/Team/plan.txt', 'edited while the laptop is away', { replace: true });
  const r = await b.shares.sync({ only: 'Tablet' });
  assert.equal(r.peers[0]!.ok, true);
  assert.equal((await readAt(c.tv.vault, '/Shares/Team/plan.txt')).toString(), 'edited while the laptop is away');
});

test('a rename travels in a bundle too: imported, the member takes the name and its folder follows', async (t) => {
  const { a, b } = await pair(t);
  await putAt(a.tv.vault, '/Team/plan.txt', 'v1');
  const { id } = await a.shares.share('/Team', ['Phone']);
  await a.shares.sync();
  a.shares.rename(id, 'Over USB');
  const file = join(a.tv.dir, 'to-phone.bundle');
  await a.shares.exportBundle('Phone', file);
  await b.shares.importBundle(file);
  assert.deepEqual([b.shares.get(id).name, b.shares.get(id).folder], ['Over USB', '/Shares/Over USB']);
  assert.deepEqual(files(b, '/Shares/Over USB'), ['plan.txt']);
});

test('a shared folder moved while a sync shows its files: what arrives goes into it where it is now', async (t) => {
  const hub: MemoryHub = { devices: new Map() };
  const all: TestDevice[] = [];
  t.after(async () => {
    for (const d of all) await d.close();
  });
  const a = await testDevice(hub, 'Laptop', all);
  // The phone's shares look up objects while they show what arrived: the first such look-up after
  // the session moves the folder, as a user might at that moment.
  let armed = false;
  let b: TestDevice | null = null;
  b = await testDevice(hub, 'Phone', all, {
    objects: (store) => ({
      ...store,
      ciphertext: {
        ...store.ciphertext,
        size: async (id) => {
          if (armed && b !== null) {
            armed = false;
            const work = b.tv.vault.mkdir(null, 'Work');
            b.tv.vault.update(b.tv.vault.resolve('/Shares/Team')!, { parent: work.id });
          }
          return store.ciphertext.size(id);
        },
      },
    }),
  });
  await putAt(a.tv.vault, '/Team/top.txt', 'top');
  await putAt(a.tv.vault, '/Team/sub/deep.txt', 'deep');
  await b.shares.sync(); // the laptop learns the phone's key
  await a.shares.share('/Team', ['Phone']);
  const stop = b.shares.subscribe((e) => {
    if (e.type === 'peer-done') armed = true;
  });
  await b.shares.sync();
  stop();
  assert.equal(armed, false, 'the folder was moved during the show');
  assert.equal(exists(b, '/Shares/Team'), false, 'no folder made again at the old path');
  assert.deepEqual(files(b, '/Work/Team'), ['sub/deep.txt', 'top.txt']);
});

test('a member removed while a transfer to it was cut short: later syncs both ways succeed, and it gets nothing more', async (t) => {
  const { hub, a, b } = await pair(t);
  await putAt(a.tv.vault, '/Team/big.bin', randomBytes(3 * 1024 * 1024));
  const { id } = await a.shares.share('/Team', ['Phone']);
  let chunks = 0;
  hub.tap = (_from, _to, msg) => {
    if (decodeMessage(msg).head.t === 'chunk' && ++chunks === 1) throw new Error('cable pulled');
    return msg;
  };
  await assert.rejects(a.shares.sync({ only: 'Phone' }));
  hub.tap = undefined;
  a.shares.removeMember(id, 'Phone');
  await putAt(a.tv.vault, '/Team/after.txt', 'written after the removal');
  // Bounded: the removed device's own sync waited forever for what it asked.
  const bounded = <T>(p: Promise<T>) => Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error('the sync did not end')), 10_000).unref())]);
  for (const d of [a, b, a]) assert.ok((await bounded(d.shares.sync())).peers.every((p) => p.ok), `${d.name} synced`);
  // Told of its removal (the record that shut it out), it never gets the new key.
  assert.equal(b.shares.get(id).epoch, 2);
  assert.equal(b.shares.get(id).removed, true);
  assert.deepEqual(files(b, '/Shares/Team'), []);
});
