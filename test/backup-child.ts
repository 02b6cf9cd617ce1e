/**
 * A backup or restore in a child process, for the kill -9 tests (test/backup-resume.test.ts):
 * it prints one line per unit of progress, so the test can kill it halfway. The target is a real
 * local folder behind a slow link (each pack transfer waits SLOW_MS first), so that "halfway"
 * is a moment the test can hit rather than a race.
 *
 *   node test/backup-child.ts backup  <home> <targetRoot> <passphrase>
 *   node test/backup-child.ts restore <into> <targetRoot> <passphrase>
 *   node test/backup-child.ts prune   <home> <targetRoot> <passphrase>   (each index write and
 *                                     delete waits SLOW_MS first, so a kill lands between them)
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { createApp } from '../src/app.ts';
import { createLocalTarget, pruneRepository } from '../src/backup/index.ts';
import type { Target } from '../src/backup/index.ts';
import { engineFor, restoreTo } from './backup-helpers.ts';

const SLOW_MS = 150;
const [mode, dir, targetRoot, passphrase] = process.argv.slice(2) as [string, string, string, string];

function slow(target: Target): Target {
  const isPack = (name: string) => name.startsWith('data/');
  return {
    ...target,
    put: async (name, body, o) => (isPack(name) && (await sleep(SLOW_MS)), target.put(name, body, o)),
    get: async (name, o) => (isPack(name) && (await sleep(SLOW_MS)), target.get(name, o)),
    read: async (name, o) => (isPack(name) && (await sleep(SLOW_MS)), target.read(name, o)),
  };
}

/** For prune: every index write and every delete waits first, and says when it is done. */
function slowSteps(target: Target): Target {
  return {
    ...target,
    put: async (name, body, o) => {
      if (name.startsWith('index/')) await sleep(SLOW_MS);
      await target.put(name, body, o);
      console.log(`put ${name}`);
    },
    delete: async (name, o) => {
      await sleep(SLOW_MS);
      await target.delete(name, o);
      console.log(`deleted ${name}`);
    },
  };
}

const target = slow(createLocalTarget({ root: targetRoot }));
if (mode === 'prune') {
  const app = createApp({ home: dir });
  const { key } = await engineFor({ home: dir, app, codes: [], decoyCodes: [] }, { passphrase });
  await pruneRepository(slowSteps(createLocalTarget({ root: targetRoot })), key);
} else if (mode === 'backup') {
  const app = createApp({ home: dir });
  const { engine } = await engineFor({ home: dir, app, codes: [], decoyCodes: [] }, { passphrase });
  await engine.backup(target, { onProgress: (p) => console.log(`progress ${p.itemsDone}`) });
} else {
  await restoreTo(target, dir, { passphrase }, { onProgress: (p) => console.log(`progress ${p.objectsDone}`) });
}
console.log('done');
