import { createHmac, createSecretKey } from 'node:crypto';
import { inTransaction, onRollback } from './sqlite.ts';
import type { Database } from './sqlite.ts';
import { open, seal, uniqueBytes } from '../crypto/index.ts';
import { ElohimError, isElohimError } from '../errors.ts';
import { idTagger } from './tag.ts';
import type { DamagedRecord, RecordId, RecordKeys, RecordKinds, RecordLoad, RecordStore, SealedRow, SealState } from './record-store.ts';

export type { DamagedRecord, RecordId, RecordKeys, RecordKinds, RecordLoad, RecordStore, SealedRow, SealState };

/** A new record id: 16 random bytes as hex. */
export function newRecordId(): RecordId {
  return uniqueBytes(16).toString('hex') as RecordId;
}

export function isRecordId(s: string): s is RecordId {
  return /^[0-9a-f]{32}$/.test(s);
}

const PAD = 64;
/** Version of the sealed body layout: version(1) ‖ length(4, BE) ‖ JSON ‖ zero padding. */
const BODY_VERSION = 1;
/** Version of the seal row's JSON. */
const SEAL_VERSION = 1;
const MOD = 1n << 256n;

interface SealValue {
  v: typeof SEAL_VERSION;
  /** number of rows */
  n: number;
  /** S, 64 hex digits */
  s: string;
}

type Row = { id: Uint8Array; tag: Uint8Array; body: Uint8Array };

/**
 * The store of the records sealed under `keys`; with `kinds`, only the kinds it declares (see
 * RecordKinds). Throws RangeError for a kind declared as both its own and another's.
 */
export function createRecordStore<T>(deps: { db: Database; keys: RecordKeys; kinds?: RecordKinds }): RecordStore<T> {
  const { db, keys, kinds } = deps;
  const others = new Set(kinds?.others ?? []);
  for (const t of Object.keys(kinds?.own ?? {})) if (others.has(t)) throw new RangeError(`record kind ${t} is declared twice`);

  /**
   * Whether a record that opened is one of ours to return (false: another domain's kind).
   * Throws VAULT_FORMAT_UNKNOWN for a kind nobody declared or a version newer than declared.
   */
  function ours(value: unknown): boolean {
    if (kinds === undefined) return true;
    const { t, v } = (value ?? {}) as { t?: unknown; v?: unknown };
    if (typeof t === 'string' && others.has(t)) return false;
    const newest = typeof t === 'string' && Object.hasOwn(kinds.own, t) ? kinds.own[t]! : undefined;
    if (newest === undefined) throw new ElohimError('VAULT_FORMAT_UNKNOWN', `record kind ${JSON.stringify(t)} is newer than this build knows`);
    const version = v === undefined ? 1 : v;
    if (typeof version !== 'number' || version > newest) {
      throw new ElohimError('VAULT_FORMAT_UNKNOWN', `record kind ${t} version ${String(version)} is newer than this build knows`);
    }
    return true;
  }
  const selectAll = db.prepare('SELECT id, tag, body FROM records');
  // Arrays, not objects keyed by column name: every load reads every row of every vault, so
  // what is built per row counts (~10,000 rows per store load, several loads per command).
  selectAll.setReturnArrays(true);
  const selectIds = db.prepare('SELECT id, tag FROM records');
  const selectOne = db.prepare('SELECT body FROM records WHERE id = ? AND tag = ?');
  const upsert = db.prepare('INSERT OR REPLACE INTO records (id, tag, body) VALUES (?, ?, ?)');
  const insertNew = db.prepare('INSERT OR IGNORE INTO records (id, tag, body) VALUES (?, ?, ?)');
  const remove = db.prepare('DELETE FROM records WHERE id = ? AND tag = ?');
  const toQuarantine = db.prepare('INSERT OR REPLACE INTO quarantine (id, tag, body) VALUES (?, ?, ?)');

  // KeyObjects, made once: an HMAC under a raw Buffer key costs ten times more (see crypto/seal.ts).
  const tagKey = createSecretKey(keys.tag);
  // Row tags in JS from precomputed HMAC states (tag.ts): a load tags every row of the table.
  const tagger = idTagger(keys.tag);
  const tagOf = (id: Buffer): Buffer => tagger.tag(id);
  const sealKey = createSecretKey(createHmac('sha256', tagKey).update('elohim/v1 record set seal key').digest());
  const sealId = createHmac('sha256', tagKey).update('elohim/v1 record set seal id').digest().subarray(0, 16);
  const sealTag = tagOf(sealId);
  const term = (id: Uint8Array, body: Uint8Array): bigint =>
    BigInt('0x' + createHmac('sha256', sealKey).update(id).update(body).digest('hex'));

  function encodeJson(id: Buffer, value: unknown): Buffer {
    const json = Buffer.from(JSON.stringify(value), 'utf8');
    const padded = Buffer.alloc(Math.ceil((json.length + 5) / PAD) * PAD);
    padded[0] = BODY_VERSION;
    padded.writeUInt32BE(json.length, 1);
    json.copy(padded, 5);
    return seal(keys.seal, padded, id);
  }

  /** Opens a body. Throws VAULT_CORRUPT when it does not open, VAULT_FORMAT_UNKNOWN for a newer layout. */
  function decodeJson(id: Buffer, body: Uint8Array): unknown {
    const padded = open(keys.seal, body, id);
    if (padded.length < 5) throw new ElohimError('VAULT_CORRUPT', 'a record is too short');
    if (padded[0] !== BODY_VERSION) throw new ElohimError('VAULT_FORMAT_UNKNOWN', `record format ${padded[0]} is newer than this build knows`);
    const length = padded.readUInt32BE(1);
    if (length + 5 > padded.length) throw new ElohimError('VAULT_CORRUPT', 'a record has a bad length');
    try {
      return JSON.parse(padded.subarray(5, 5 + length).toString('utf8'));
    } catch (err) {
      // Only a bug writes bad JSON under a valid seal, but it is damage all the same.
      throw new ElohimError('VAULT_CORRUPT', 'a record is not valid JSON', { cause: err });
    }
  }

  /** The stored seal; null when there is none. A seal row that does not open counts as none. */
  function readSeal(): SealValue | null {
    const row = selectOne.get(sealId, sealTag) as { body: Uint8Array } | undefined;
    if (row === undefined) return null;
    try {
      const value = decodeJson(sealId, row.body) as SealValue;
      if (value.v !== SEAL_VERSION) throw new ElohimError('VAULT_FORMAT_UNKNOWN', `record seal format ${String(value.v)} is newer than this build knows`);
      return value;
    } catch (err) {
      if (isElohimError(err, 'VAULT_CORRUPT')) return null;
      throw err;
    }
  }

  function writeSeal(n: number, s: bigint): void {
    const value: SealValue = { v: SEAL_VERSION, n, s: s.toString(16).padStart(64, '0') };
    upsert.run(sealId, sealTag, encodeJson(sealId, value));
  }

  /** Every row of ours except the seal, with its raw bytes. */
  function* ourRows(): Generator<Row & { idBuf: Buffer }> {
    for (const [rid, tag, body] of selectAll.iterate() as unknown as Iterable<[Uint8Array, Uint8Array, Uint8Array]>) {
      // A view, not a copy: node:sqlite gives every blob its own memory.
      const id = Buffer.from(rid.buffer, rid.byteOffset, rid.byteLength);
      if (!tagger.matches(id, tag)) continue; // another vault's row, or not a row of ours
      if (id.equals(sealId)) continue;
      yield { id: rid, tag, body, idBuf: id };
    }
  }

  /**
   * Whether this store has rows though it has no seal. Remembered once true (such a store stays
   * unsealed until `repair`), so a store made before seals does not scan the table per commit.
   */
  let unsealedRows = false;
  function hasRows(): boolean {
    if (unsealedRows) return true;
    for (const row of selectIds.iterate() as Iterable<{ id: Uint8Array; tag: Uint8Array }>) {
      const id = Buffer.from(row.id);
      if (!id.equals(sealId) && tagger.matches(id, row.tag)) unsealedRows = true;
    }
    return unsealedRows;
  }

  function load(): RecordLoad<T> {
    const records = new Map<RecordId, T>();
    const damaged: DamagedRecord[] = [];
    let sum = 0n;
    let n = 0;
    for (const row of ourRows()) {
      const id = row.idBuf.toString('hex') as RecordId;
      sum = (sum + term(row.id, row.body)) % MOD;
      n++;
      try {
        const value = decodeJson(row.idBuf, row.body);
        if (ours(value)) records.set(id, value as T);
      } catch (err) {
        if (!isElohimError(err, 'VAULT_CORRUPT')) throw err;
        damaged.push({ id, reason: err.message });
      }
    }
    const stored = readSeal();
    // A store with no rows and no seal was never written (or every row was removed: see above).
    const state: SealState = stored === null ? (n === 0 ? 'ok' : 'absent') : stored.n === n && BigInt('0x' + stored.s) === sum ? 'ok' : 'mismatch';
    return { records, damaged, seal: state };
  }

  /** Writes sealed bodies (id, body) and deletes rows in one transaction, keeping the seal. */
  function writeRows(puts: Iterable<[Buffer, Buffer]>, removes: Iterable<RecordId>): void {
    inTransaction(db, () => {
      const stored = readSeal();
      // No seal: a new store (no rows yet) starts one. A store that has rows but lost its seal
      // (or predates seals) is not re-sealed here, which would bless whatever was deleted with
      // it; `repair` does that when asked, and `load` reports 'absent' until then.
      const sealing = stored !== null || !hasRows();
      let s = stored === null ? 0n : BigInt('0x' + stored.s);
      let n = stored?.n ?? 0;
      const drop = (raw: Buffer, tag: Buffer) => {
        const old = selectOne.get(raw, tag) as { body: Uint8Array } | undefined;
        if (old === undefined) return;
        s = (s - term(raw, old.body) + MOD) % MOD;
        n--;
      };
      for (const [raw, body] of puts) {
        const tag = tagOf(raw);
        // Most puts are new records (a sync adopts thousands): one statement, and a look for the
        // row they replace only when one holds the id (a lookup per put was ~2 % of bench:sync's
        // receiver).
        if (Number(insertNew.run(raw, tag, body).changes) === 0) {
          drop(raw, tag);
          upsert.run(raw, tag, body);
        }
        s = (s + term(raw, body)) % MOD;
        n++;
      }
      for (const id of removes) {
        const raw = Buffer.from(id, 'hex');
        const tag = tagOf(raw);
        drop(raw, tag);
        remove.run(raw, tag);
      }
      if (sealing) writeSeal(n, s);
    });
  }

  return {
    loadAll() {
      return load().records;
    },

    get(id) {
      const raw = Buffer.from(id, 'hex');
      const row = selectOne.get(raw, tagOf(raw)) as { body: Uint8Array } | undefined;
      if (row === undefined) return null;
      const value = decodeJson(raw, row.body);
      return ours(value) ? (value as T) : null;
    },

    load,

    version() {
      const row = selectOne.get(sealId, sealTag) as { body: Uint8Array } | undefined;
      return row === undefined ? null : Buffer.from(row.body.buffer, row.body.byteOffset, row.body.byteLength).toString('base64');
    },

    idOf(label) {
      return createHmac('sha256', tagKey).update('elohim/v1 record id\u0000').update(label).digest().subarray(0, 16).toString('hex') as RecordId;
    },

    commit(changes) {
      const bodies = function* (): Generator<[Buffer, Buffer]> {
        for (const [id, value] of changes.put ?? []) {
          const t = (value as { t?: unknown } | null)?.t;
          if (kinds !== undefined && !(typeof t === 'string' && Object.hasOwn(kinds.own, t))) {
            throw new RangeError(`record kind ${JSON.stringify(t)} is not one this store declared as its own`);
          }
          const raw = Buffer.from(id, 'hex');
          yield [raw, encodeJson(raw, value)];
        }
      };
      writeRows(bodies(), changes.remove ?? []);
    },

    exportRows() {
      return [...ourRows()].map((row) => ({ id: row.idBuf, tag: Buffer.from(row.tag), body: Buffer.from(row.body) }));
    },

    importRows(rows) {
      const checked: [Buffer, Buffer][] = [];
      for (const row of rows) {
        const id = Buffer.from(row.id);
        if (id.length !== 16 || row.tag.length !== 16 || id.equals(sealId) || !tagger.matches(id, row.tag)) {
          throw new ElohimError('VAULT_CORRUPT', 'a received record is not one of this vault');
        }
        decodeJson(id, row.body);
        checked.push([id, Buffer.from(row.body)]);
      }
      writeRows(checked, []);
    },

    clear() {
      return inTransaction(db, () => {
        let removed = 0;
        for (const row of [...ourRows()]) {
          remove.run(row.id, row.tag);
          removed++;
        }
        remove.run(sealId, sealTag);
        return removed;
      });
    },

    transaction(fn) {
      return inTransaction(db, fn);
    },

    onRollback(undo) {
      onRollback(db, undo);
    },

    transactionOpen() {
      return db.isTransaction;
    },

    repair() {
      return inTransaction(db, () => {
        const quarantined: RecordId[] = [];
        let s = 0n;
        let n = 0;
        for (const row of [...ourRows()]) {
          try {
            decodeJson(row.idBuf, row.body);
            s = (s + term(row.id, row.body)) % MOD;
            n++;
          } catch (err) {
            if (!isElohimError(err, 'VAULT_CORRUPT')) throw err;
            toQuarantine.run(row.id, row.tag, row.body);
            remove.run(row.id, row.tag);
            quarantined.push(row.idBuf.toString('hex') as RecordId);
          }
        }
        const stored = readSeal();
        const resealed = stored === null || stored.n !== n || BigInt('0x' + stored.s) !== s;
        if (resealed) writeSeal(n, s);
        unsealedRows = false;
        return { quarantined, resealed };
      });
    },
  };
}
