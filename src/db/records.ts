import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { inTransaction } from './sqlite.ts';
import type { Database } from './sqlite.ts';
import { open, seal } from '../crypto/index.ts';
import type { SealKey } from '../crypto/index.ts';
import { ElohimError } from '../errors.ts';

/** A record id: 16 random bytes, as 32 lowercase hex characters. */
export type RecordId = string & { readonly __brand: 'RecordId' };

export function newRecordId(): RecordId {
  return randomBytes(16).toString('hex') as RecordId;
}

export function isRecordId(s: string): s is RecordId {
  return /^[0-9a-f]{32}$/.test(s);
}

export interface RecordKeys {
  /** seals record bodies */
  seal: SealKey;
  /** keys the tag that lets a vault find its own rows without saying which vault owns them */
  tag: Buffer;
}

/**
 * The sealed-record store over the `records` table. A body is any JSON value in a versioned
 * layout (BODY_VERSION), padded to a multiple of PAD bytes (so lengths leak little about
 * names) and sealed with the record id as associated data. A row's tag is HMAC(tag key, id): random-looking to anyone without the key,
 * and checkable by the owner in one pass at unlock.
 */
export interface RecordStore<T> {
  /** Every record of this vault, read and opened. Throws VAULT_CORRUPT if a row of ours was altered. */
  loadAll(): Map<RecordId, T>;
  /** Writes (insert or replace) and deletes in one transaction. */
  commit(changes: { put?: Iterable<[RecordId, T]>; remove?: Iterable<RecordId> }): void;
}

const PAD = 64;
/** Version of the sealed body layout: version(1) ‖ length(4, BE) ‖ JSON ‖ zero padding. */
const BODY_VERSION = 1;

export function createRecordStore<T>(deps: { db: Database; keys: RecordKeys }): RecordStore<T> {
  const { db, keys } = deps;
  const selectAll = db.prepare('SELECT id, tag, body FROM records');
  const upsert = db.prepare('INSERT OR REPLACE INTO records (id, tag, body) VALUES (?, ?, ?)');
  const remove = db.prepare('DELETE FROM records WHERE id = ? AND tag = ?');

  const tagOf = (id: Buffer): Buffer => createHmac('sha256', keys.tag).update(id).digest().subarray(0, 16);

  function encode(id: Buffer, value: T): Buffer {
    const json = Buffer.from(JSON.stringify(value), 'utf8');
    const padded = Buffer.alloc(Math.ceil((json.length + 5) / PAD) * PAD);
    padded[0] = BODY_VERSION;
    padded.writeUInt32BE(json.length, 1);
    json.copy(padded, 5);
    return seal(keys.seal, padded, id);
  }

  function decode(id: Buffer, body: Uint8Array): T {
    const padded = open(keys.seal, body, id);
    if (padded.length < 5) throw new ElohimError('VAULT_CORRUPT', 'a record is too short');
    if (padded[0] !== BODY_VERSION) throw new ElohimError('VAULT_FORMAT_UNKNOWN', `record format ${padded[0]} is newer than this build knows`);
    const length = padded.readUInt32BE(1);
    if (length + 5 > padded.length) throw new ElohimError('VAULT_CORRUPT', 'a record has a bad length');
    return JSON.parse(padded.subarray(5, 5 + length).toString('utf8')) as T;
  }

  return {
    loadAll() {
      const out = new Map<RecordId, T>();
      for (const row of selectAll.iterate() as Iterable<{ id: Uint8Array; tag: Uint8Array; body: Uint8Array }>) {
        const id = Buffer.from(row.id);
        if (!timingSafeEqual(tagOf(id), row.tag)) continue; // another vault's row, or not a row of ours
        out.set(id.toString('hex') as RecordId, decode(id, row.body));
      }
      return out;
    },
    commit(changes) {
      inTransaction(db, () => {
        for (const [id, value] of changes.put ?? []) {
          const raw = Buffer.from(id, 'hex');
          upsert.run(raw, tagOf(raw), encode(raw, value));
        }
        for (const id of changes.remove ?? []) {
          const raw = Buffer.from(id, 'hex');
          remove.run(raw, tagOf(raw));
        }
      });
    },
  };
}
