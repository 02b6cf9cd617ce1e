/**
 * The process refs.test.ts kills: opens the vault in VAULT_DIR with the keys in VAULT_KEYS,
 * registers the holder `test-holder` needing the objects in HELD (comma-separated), prints
 * `emptying`, empties the trash (whose objects a collection pass then removes one by one) and
 * prints `done`. The test kills it with SIGKILL somewhere in between.
 */
import { join } from 'node:path';
import { asSealKey, createHasherPool } from '../crypto/index.ts';
import { createRecordStore, openDatabase } from '../db/index.ts';
import { createObjectStore, openVault } from './index.ts';
import type { VaultRecord } from './index.ts';

const dir = process.env.VAULT_DIR!;
const [seal, tag] = process.env.VAULT_KEYS!.split(':').map((h) => Buffer.from(h, 'hex'));
const held = new Set((process.env.HELD ?? '').split(',').filter(Boolean));
const hashers = createHasherPool({ maxWorkers: 1 });
const vault = await openVault({
  records: createRecordStore<VaultRecord>({ db: openDatabase(join(dir, 'db.sqlite')), keys: { seal: asSealKey(seal!), tag: tag! } }),
  objects: createObjectStore({ root: join(dir, 'objects'), hashers }),
  clock: Date.now,
  identity: process.env.VAULT_IDENTITY!,
  hashers,
});
vault.retain('test-holder', (object) => held.has(object));
process.stdout.write('emptying\n');
await vault.emptyTrash();
process.stdout.write('done\n');
process.exit(0);
