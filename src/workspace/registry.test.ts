/**
 * The registry of open workspaces, over the real keyring on a temp data folder. The workspaces
 * are built by a build function of the test's own (app.ts's builds the vault and its audit log;
 * here what matters is what the registry does with whatever it is given): one build per vault,
 * unlocks counted, lock and panic aborting work in flight and stopping every service.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { openDatabase } from '../db/index.ts';
import type { Database } from '../db/index.ts';
import { isElohimError } from '../errors.ts';
import { createProcessLock } from '../fs/index.ts';
import { createKeyring } from '../keyring/index.ts';
import type { VaultKey } from '../keyring/index.ts';
import { createWorkspaces } from './registry.ts';
import type { Workspace, WorkspaceService } from './workspace.ts';

const CHEAP = { memory: 19 * 1024, passes: 2, parallelism: 1 };
const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function setUp() {
  const dir = await mkdtemp(join(tmpdir(), 'elohim-ws-'));
  dirs.push(dir);
  let db: Database | null = null;
  const keyring = createKeyring({
    paths: { keyslots: join(dir, 'keyslots.bin'), throttle: join(dir, 'throttle.json') },
    db: () => (db ??= openDatabase(join(dir, 'db.sqlite'))),
    lock: createProcessLock({ path: join(dir, 'lock') }),
    clock: Date.now,
  });
  await keyring.init({ passphrase: 'real', decoyPassphrase: 'decoy', argon2: CHEAP }, () => {});
  const events: string[] = [];
  const running = new Set<NodeJS.Timeout>();
  let builds = 0;
  let gate: Promise<void> = Promise.resolve();
  const workspaces = createWorkspaces({
    keyring,
    async build(key: VaultKey, signal: AbortSignal) {
      builds++;
      await gate;
      // A service that owns a timer, as the mesh node or the assistant will.
      const timer = setInterval(() => {}, 1000);
      running.add(timer);
      const service: WorkspaceService = {
        stop() {
          clearInterval(timer);
          running.delete(timer);
        },
      };
      const audit = { append: (event: string) => events.push(`${key.id.slice(0, 6)} ${event}`), retainIfDue: () => 0, pending: () => 0, flush: () => 0 };
      const workspace = { id: key.id, signal, audit } as unknown as Workspace;
      return { workspace, services: [service] };
    },
  });
  return { workspaces, running, events, builds: () => builds, hold: (p: Promise<void>) => (gate = p), close: () => db?.close() };
}

test('two concurrent unlocks of one vault share one build; a second vault gets its own', async () => {
  const t = await setUp();
  try {
    const [a, b] = await Promise.all([t.workspaces.unlock({ passphrase: 'real' }), t.workspaces.unlock({ passphrase: 'real' })]);
    assert.equal(a.workspace, b.workspace);
    assert.equal(t.builds(), 1);
    const d = await t.workspaces.unlock({ passphrase: 'decoy' });
    assert.notEqual(d.workspace.id, a.workspace.id);
    assert.equal(t.workspaces.size(), 2);
    t.workspaces.lockAll(undefined);
  } finally {
    t.close();
  }
});

test('release stops a workspace only when the last unlock is given back; lock stops it at once', async () => {
  const t = await setUp();
  try {
    const first = await t.workspaces.unlock({ passphrase: 'real' });
    await t.workspaces.unlock({ passphrase: 'real' });
    t.workspaces.release(first.workspace.id);
    assert.equal(t.workspaces.get(first.workspace.id), first.workspace, 'one unlock still holds it');
    assert.equal(first.workspace.signal.aborted, false);
    t.workspaces.release(first.workspace.id);
    assert.equal(t.workspaces.get(first.workspace.id), undefined);
    assert.equal(first.workspace.signal.aborted, true);

    const again = await t.workspaces.unlock({ passphrase: 'real' });
    await t.workspaces.unlock({ passphrase: 'real' });
    t.workspaces.lock(again.workspace.id, 'lock');
    assert.equal(t.workspaces.get(again.workspace.id), undefined, 'lock does not wait for the other unlock');
    assert.equal(again.workspace.signal.aborted, true);
  } finally {
    t.close();
  }
});

test('panic aborts every workspace, stops every service (no timer left running) and audits it in each', async () => {
  const t = await setUp();
  try {
    const real = await t.workspaces.unlock({ passphrase: 'real' });
    const decoy = await t.workspaces.unlock({ passphrase: 'decoy' });
    assert.equal(t.running.size, 2);
    assert.equal(t.workspaces.lockAll('panic'), 2);
    assert.equal(real.workspace.signal.aborted && decoy.workspace.signal.aborted, true);
    await new Promise((resolve) => setImmediate(resolve)); // services stop in the background
    assert.equal(t.running.size, 0, 'a service left a timer running');
    assert.equal(t.events.filter((e) => e.endsWith(' panic')).length, 2);
    assert.equal(t.workspaces.size(), 0);
  } finally {
    t.close();
  }
});

test('a workspace still being built when panic fires is stopped as it finishes, and its unlock fails', async () => {
  const t = await setUp();
  try {
    let open!: () => void;
    t.hold(new Promise<void>((resolve) => (open = resolve)));
    const unlocking = t.workspaces.unlock({ passphrase: 'real' });
    while (t.builds() === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    t.workspaces.lockAll('panic');
    open();
    await assert.rejects(unlocking, (e) => isElohimError(e, 'SESSION_REQUIRED'));
    assert.equal(t.workspaces.size(), 0);
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(t.running.size, 0);
  } finally {
    t.close();
  }
});
