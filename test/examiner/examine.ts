/**
 * The forensic examiner's hands: given a data folder, the passphrase (and recovery codes) of the
 * vault the user handed over, and our source, it collects everything that vault can open and
 * every byte, row, object, slot, time and file around it. It imports our formats exactly as an
 * examiner reading the source would (key slots, sealed records, the audit log, the age payload),
 * and works on copies: the folder is stat()ed first (reading a file or listing a folder moves
 * its access time), then copied, and only the copies are opened.
 *
 * No judgement here: features.ts turns the evidence into a report, compare.ts compares reports.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { cp, readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { assistantKeysOf } from '../../src/ai/index.ts';
import { auditKeysOf, createAuditLog } from '../../src/audit/index.ts';
import { backupRecordKeys } from '../../src/backup/index.ts';
import { meshKeysOf } from '../../src/mesh/index.ts';
import { syncRecordKeysOf } from '../../src/mesh/shares/index.ts';
import type { AuditRecord } from '../../src/audit/index.ts';
import { createStreamDecryptor, fileKeyFromBytes, payloadKey, PAYLOAD_NONCE_SIZE } from '../../src/crypto/age/index.ts';
import { hkdf } from '../../src/crypto/index.ts';
import { createRecordStore } from '../../src/db/index.ts';
import { isElohimError } from '../../src/errors.ts';
import type { RecordKeys, RecordStore } from '../../src/db/index.ts';
import { vaultRecordKeys } from '../../src/keyring/index.ts';
import { byteUniformity } from '../helpers.ts';
import type { Evidence, ItemEvidence, ObjectEvidence, PathStat, RowEvidence, StoreEvidence } from './evidence.ts';
import { probeNested, sessionViews } from './probe.ts';
import { openSlots } from './slots.ts';
import type { Handover } from './slots.ts';
import { freePagesHoldNoData, parseSqliteHeader } from './sqlite-file.ts';

export type { Handover } from './slots.ts';
export { initDecoyArgs } from './probe.ts';

const ms = (ns: bigint): number => Number(ns / 1000n) / 1000;

/** Every path below `root`, each stat()ed before its folder is listed (listing moves a folder's atime). */
async function statTree(root: string): Promise<PathStat[]> {
  const out: PathStat[] = [];
  const visit = async (rel: string): Promise<void> => {
    const full = rel === '' ? root : join(root, rel);
    const s = await stat(full, { bigint: true });
    const kind = s.isFile() ? 'file' : s.isDirectory() ? 'dir' : 'other';
    out.push({
      path: rel,
      kind,
      size: Number(s.size),
      mode: Number(s.mode & 0o777n),
      atimeMs: ms(s.atimeNs),
      mtimeMs: ms(s.mtimeNs),
      ctimeMs: ms(s.ctimeNs),
      birthMs: ms(s.birthtimeNs),
    });
    if (kind !== 'dir') return;
    for (const name of (await readdir(full)).sort()) await visit(rel === '' ? name : `${rel}/${name}`);
  };
  await visit('');
  return out;
}

/**
 * The record stores of one vault, by the labels our source derives their keys with: the vault's
 * own records (where the keyring's 'meta' bookkeeping lives too) and its audit log.
 */
function storesOf(master: Buffer): { name: string; keys: RecordKeys }[] {
  const derive = (label: string) => hkdf(master, Buffer.alloc(0), label);
  // Every record store a vault's services keep under keys of their own (app.ts's list): the
  // examiner opens what the decoy's key opens, wherever it is.
  return [
    { name: 'vault', keys: vaultRecordKeys(derive) },
    { name: 'audit', keys: auditKeysOf(derive) },
    { name: 'assistant', keys: assistantKeysOf(derive) },
    { name: 'backup', keys: backupRecordKeys(derive) },
    { name: 'mesh', keys: meshKeysOf(derive) },
    { name: 'shares', keys: syncRecordKeysOf(derive) },
  ];
}

/** db/records.ts: a row's tag is HMAC(tag key, id) cut to 16 bytes; a store's seal row has a keyed id. */
function tagOf(tagKey: Buffer, id: Uint8Array): Buffer {
  return createHmac('sha256', tagKey).update(id).digest().subarray(0, 16);
}
function sealIdOf(tagKey: Buffer): Buffer {
  return createHmac('sha256', tagKey).update('elohim/v1 record set seal id').digest().subarray(0, 16);
}

/**
 * cover/chaff.ts: one row every folder has, at an id and tag fixed in the source, which every
 * maintenance pass writes. The examiner knows it from the source, so it explains it.
 */
const COVER_ROW = {
  id: createHash('sha256').update('elohim/v1 cover row id').digest().subarray(0, 16),
  tag: createHash('sha256').update('elohim/v1 cover row tag').digest().subarray(0, 16),
};

type AnyRecord = { t: string; [k: string]: unknown };

async function decryptsTo(path: string, fileKeyB64: string, sha256: string): Promise<boolean> {
  const stored = await readFile(path);
  const nonce = stored.subarray(0, PAYLOAD_NONCE_SIZE);
  const key = payloadKey(fileKeyFromBytes(Buffer.from(fileKeyB64, 'base64')), nonce);
  try {
    const plain = await buffer(Readable.from([stored.subarray(PAYLOAD_NONCE_SIZE)]).pipe(createStreamDecryptor(key)));
    return createHash('sha256').update(plain).digest('hex') === sha256;
  } catch (err) {
    // The object does not authenticate under its key: damage, which the report names.
    if (isElohimError(err, 'AGE_PAYLOAD_INVALID')) return false;
    throw err;
  }
}

/** Every item of the vault with its path (parents followed through the trash as well). */
function itemsOf(records: AnyRecord[]): ItemEvidence[] {
  const items = records.filter((r) => r.t === 'item') as unknown as {
    id: string; kind: 'file' | 'folder'; parent: string | null; name: string; size?: number; trashedAt?: number; created: number; modified: number; object?: string;
  }[];
  const byId = new Map(items.map((i) => [i.id, i]));
  const pathOf = (i: (typeof items)[number]): string => {
    const parent = i.parent === null ? undefined : byId.get(i.parent);
    return `${parent === undefined ? '' : pathOf(parent)}/${i.name}`;
  };
  const trashed = (i: (typeof items)[number]): boolean =>
    i.trashedAt !== undefined || (i.parent !== null && byId.get(i.parent) !== undefined && trashed(byId.get(i.parent)!));
  return items
    .map((i) => ({ kind: i.kind, path: pathOf(i), size: i.size, trashed: trashed(i), created: i.created, modified: i.modified, object: i.object }))
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/**
 * Examines the data folder `home` with what the user handed over. `scratch` is an empty folder
 * for the examiner's copies; `addDecoyArgs` is how this build's CLI adds a decoy (initDecoyArgs).
 * Throws when the handed-over passphrase opens nothing.
 */
export async function examine(home: string, handover: Handover, scratch: string, opts: { addDecoyArgs: readonly string[] }): Promise<Evidence> {
  const stats = await statTree(home);
  const image = join(scratch, 'image');
  const probe = join(scratch, 'probe');
  const viewed = join(scratch, 'views');
  for (const copy of [image, probe, viewed]) await cp(home, copy, { recursive: true });
  const nestedRun = probeNested(probe, handover.passphrase, opts.addDecoyArgs);
  const viewsRun = sessionViews(viewed, handover.passphrase);

  const { master, keyslots } = await openSlots(await readFile(join(image, 'keyslots.bin')), handover);

  // The raw file first: opening it with SQLite may checkpoint or rewrite the header.
  const dbFile = await readFile(join(image, 'db.sqlite'));
  const header = parseSqliteHeader(dbFile);
  const sidecars = (await readdir(image)).filter((n) => n.startsWith('db.sqlite-')).sort();
  const db = new DatabaseSync(join(image, 'db.sqlite'));
  try {
    const schema = db.prepare('SELECT type, name, sql FROM sqlite_schema ORDER BY type, name').all() as { type: string; name: string; sql: string | null }[];
    const rowCounts: Record<string, number> = {};
    for (const t of schema.filter((s) => s.type === 'table')) {
      rowCounts[t.name] = (db.prepare(`SELECT count(*) AS n FROM "${t.name.replaceAll('"', '""')}"`).get() as { n: number }).n;
    }

    const stores = storesOf(master);
    const rows: RowEvidence[] = [];
    const rowsByTag = new Map<string, number>();
    for (const table of ['records', 'quarantine']) {
      if (rowCounts[table] === undefined) continue;
      for (const row of db.prepare(`SELECT id, tag, body FROM ${table}`).iterate() as Iterable<{ id: Uint8Array; tag: Uint8Array; body: Uint8Array }>) {
        const id = Buffer.from(row.id);
        const tag = Buffer.from(row.tag);
        const store = stores.find((s) => tag.length === 16 && timingSafeEqual(tagOf(s.keys.tag, id), tag));
        if (store !== undefined && table === 'records') rowsByTag.set(store.name, (rowsByTag.get(store.name) ?? 0) + 1);
        const cover = id.equals(COVER_ROW.id) && tag.equals(COVER_ROW.tag);
        rows.push({
          table,
          idBytes: id.length,
          tagBytes: tag.length,
          bodyBytes: row.body.length,
          owner: store?.name ?? (cover ? 'cover' : null),
          seal: store !== undefined && id.equals(sealIdOf(store.keys.tag)),
        });
      }
    }

    const all: AnyRecord[] = [];
    const storeEvidence: StoreEvidence[] = [];
    const meta: Record<string, unknown>[] = [];
    let auditStore: RecordStore<AuditRecord> | null = null;
    for (const s of stores) {
      const store = createRecordStore<AnyRecord>({ db, keys: s.keys });
      const loaded = store.load();
      const kinds: Record<string, number> = {};
      for (const rec of loaded.records.values()) {
        kinds[rec.t] = (kinds[rec.t] ?? 0) + 1;
        if (rec.t === 'meta') meta.push(rec);
        if (s.name === 'vault') all.push(rec);
      }
      storeEvidence.push({ name: s.name, kinds, damaged: loaded.damaged.length, seal: loaded.seal, rowsByTag: rowsByTag.get(s.name) ?? 0 });
      if (s.name === 'audit') auditStore = createRecordStore<AuditRecord>({ db, keys: s.keys });
    }
    const log = createAuditLog({ records: auditStore!, clock: () => 0 });
    const verdict = log.verify();
    const listed = log.list({ limit: 1000 }).entries;
    const audit = {
      entries: listed.map((e) => ({ seq: e.seq, at: e.at, event: e.event, details: { ...e.details } })).sort((a, b) => a.seq - b.seq),
      verifyOk: verdict.ok,
      verifyReason: verdict.ok ? undefined : verdict.reason,
    };

    const items = itemsOf(all);
    const referenced = new Set<string>();
    for (const rec of all) {
      if (rec.t === 'item' && typeof rec.object === 'string') referenced.add(rec.object);
      if (rec.t === 'upload' && typeof rec.object === 'string') referenced.add(rec.object);
      if (rec.t === 'intent' && Array.isArray(rec.objects)) for (const o of rec.objects as string[]) referenced.add(o);
    }
    const objects: ObjectEvidence[] = [];
    const strayObjectPaths: string[] = [];
    const onDisk = new Set<string>();
    const objectsDir = join(image, 'objects');
    for (const shard of (await readdir(objectsDir).catch(() => [] as string[])).sort()) {
      if (shard === 'tmp') continue;
      const shardPath = join(objectsDir, shard);
      if (!/^[0-9a-f]{2}$/.test(shard) || !(await stat(shardPath)).isDirectory()) {
        strayObjectPaths.push(shard);
        continue;
      }
      for (const name of (await readdir(shardPath)).sort()) {
        const info = await stat(join(shardPath, name));
        if (!/^[0-9a-f]{30}$/.test(name) || !info.isFile()) {
          strayObjectPaths.push(`${shard}/${name}`);
          continue;
        }
        const id = shard + name;
        onDisk.add(id);
        const obj: ObjectEvidence = { path: `${shard}/${name}`, size: info.size, referenced: referenced.has(id) };
        const item = all.find((r) => r.t === 'item' && r.object === id);
        if (item !== undefined) obj.decrypts = await decryptsTo(join(shardPath, name), item.fileKey as string, item.sha256 as string);
        objects.push(obj);
      }
    }

    const smallFiles: Record<string, string> = {};
    for (const s of stats) {
      if (s.kind !== 'file' || s.path.includes('/') || s.path.startsWith('db.sqlite') || s.path === 'keyslots.bin') continue;
      if (s.path === 'reserve') {
        // Random bytes by construction (src/fs/reserve.ts): what can differ is whether they are.
        const { z } = byteUniformity(await readFile(join(image, s.path)));
        smallFiles[s.path] = z < 5 ? 'random bytes' : `not uniform (z ${z.toFixed(1)})`;
        continue;
      }
      smallFiles[s.path] = await readFile(join(image, s.path), 'utf8');
    }

    return {
      stats,
      smallFiles,
      keyslots,
      meta,
      sqlite: { header, schema, rowCounts, freePagesHoldNoData: freePagesHoldNoData(dbFile, header), sidecars },
      rows,
      stores: storeEvidence,
      audit,
      items,
      missingObjects: [...referenced].filter((id) => !onDisk.has(id)).length,
      objects,
      strayObjectPaths,
      nested: await nestedRun,
      views: await viewsRun,
    };
  } finally {
    db.close();
    master.fill(0);
  }
}
