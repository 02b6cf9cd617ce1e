/**
 * The writer a crash test kills (crash.test.ts): opens the store at STORE_PATH with the record
 * keys in STORE_KEYS, then forever writes an object and commits a batch of rows pointing at it
 * (object first, as the vault does), printing each batch's number once its commit returned.
 */
import { randomBytes } from 'node:crypto';
import { generateFileKey } from '../crypto/age/index.ts';
import { asSealKey, createHasherPool } from '../crypto/index.ts';
import { createRecordStore, newRecordId } from '../db/index.ts';
import { newObjectId } from '../vault/index.ts';
import { openStore } from './index.ts';

const [seal, tag] = process.env.STORE_KEYS!.split(':').map((h) => Buffer.from(h, 'hex'));
const keys = { seal: asSealKey(seal!), tag: tag! };
const store = openStore({ path: process.env.STORE_PATH!, size: Number(process.env.STORE_SIZE), hashers: createHasherPool({ maxWorkers: 1 }), clock: Date.now });
const records = createRecordStore<Record<string, unknown>>({ db: store.databaseFor(keys), keys });
const objects = store.objectsFor(keys);
for (let batch = 0; ; batch++) {
  const fileKey = generateFileKey();
  const object = newObjectId();
  const bytes = randomBytes(200_000 + batch * 1000);
  await objects.write(object, bytes, fileKey);
  // ~1,500 rows: a changeset of many log blocks, so a kill can land in the middle of one.
  records.commit({
    put: Array.from({ length: 1500 }, (_, n) => [newRecordId(), { t: 'item', batch, n, object, fileKey: Buffer.from(fileKey).toString('base64'), size: bytes.length }] as const).map(([id, v]) => [id, v]),
  });
  process.stdout.write(`${batch}\n`);
}
