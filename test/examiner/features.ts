/**
 * From evidence to a report: one plain object of features, each named `<tell>.<what>`, so a
 * difference between two folders names the tell it belongs to. Values that differ between any
 * two folders by nature (keys, salts, exact times) are reduced to what an examiner could reason
 * from: which slots open, how many rows nobody explains, where a time falls in the examined
 * vault's history (timeline.ts). Pure.
 */
import { ciphertextSize, PAYLOAD_NONCE_SIZE, plaintextSize } from '../../src/crypto/age/index.ts';
import { SEAL_OVERHEAD } from '../../src/crypto/index.ts';
import { isElohimError } from '../../src/errors.ts';
import type { Evidence, PathStat } from './evidence.ts';
import { bucketOf, bucketsOf, timelineOf } from './timeline.ts';

export type Report = Record<string, unknown>;

/**
 * The tells of issue 9 (the first five), and the other groups of features the examiner compares.
 * A feature's name starts with its group.
 */
export const TELLS = {
  slotBookkeeping: 'tell 1, slot bookkeeping: what the vault’s key slots and its meta record say',
  unexplainedData: 'tell 2, unexplained rows and objects: what no record of the vault accounts for',
  nestedCapacity: 'tell 3, nested-decoy capacity: how many `init --decoy` the stock CLI chains from the vault',
  timestamps: 'tell 4, timestamps: file and folder mtime/ctime/atime against the vault’s audit log',
  creationOrder: 'tell 5, order of creation: birth times against the vault’s setup entry',
  chaffPattern: 'unexplained objects born together after set-up, which chaff never is (a tell this examiner found)',
  examinedVault: 'the examined vault itself: the same work must read the same',
  keyslotsFile: 'keyslots.bin header and unopened slots',
  sqliteFile: 'db.sqlite header, schema and free pages',
  fileLayout: 'the files and folders of the data folder, their kinds, modes and contents',
} as const;
export type Tell = keyof typeof TELLS;

/**
 * Outside set-up, chaff objects come only from the server's passes (a command's passes add none),
 * at most one per pass, and passes are at least 2 minutes apart (server.ts MAINTENANCE_MIN_MS,
 * cover/chaff.ts). So two unexplained objects born within a minute of each other after set-up
 * are not both chaff: a vault wrote them, several files in one go.
 */
export const CHAFF_BURST_WINDOW_MS = 60_000;

/** The largest plaintext a chaff object stands for (cover/chaff.ts chaffPlaintextSize): a bigger unexplained object is a vault's. */
export const CHAFF_MAX_PLAINTEXT = 4 * 1024 * 1024;

export interface FeatureOptions {
  /** see timeline.ts bucketOf */
  toleranceMs: number;
}

const TOP_LEVEL = new Set(['keyslots.bin', 'db.sqlite', 'config.json', 'unlock-throttle.json', 'reserve']);

/** The class of a path, for times: fixed files by name, object files by whether the vault explains them. */
function categoryOf(s: PathStat, referenced: ReadonlySet<string>): string {
  if (s.path === '') return 'data folder/';
  if (!s.path.includes('/')) return s.kind === 'dir' ? `${s.path}/` : TOP_LEVEL.has(s.path) ? s.path : `other file ${s.path}`;
  if (s.path === 'objects/tmp') return 'objects/tmp/';
  if (s.path.startsWith('objects/tmp/')) return 'objects/tmp/*';
  const parts = s.path.split('/');
  if (parts[0] === 'objects' && parts.length === 2) return s.kind === 'dir' ? 'objects/<shard>/' : 'objects/<stray>';
  if (parts[0] === 'objects' && parts.length === 3) return referenced.has(`${parts[1]}/${parts[2]}`) ? 'objects: the vault’s' : 'objects: unexplained';
  return `other path ${s.path}`;
}

/** A record with what differs by nature blanked: keys and times. */
function normalizeBook(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(normalizeBook);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value).sort()) {
    const v = (value as Record<string, unknown>)[key];
    if (key === 'created') out[key] = '<time: see creationOrder.bookCreated>';
    else if (key === 'master' && typeof v === 'string') out[key] = `<${v.length / 2}-byte key>`;
    else out[key] = normalizeBook(v);
  }
  return out;
}

/** Whether `size` is a size a stored object can have: nonce ‖ STREAM payload. */
function isObjectSize(size: number): boolean {
  if (size < PAYLOAD_NONCE_SIZE) return false;
  try {
    return ciphertextSize(plaintextSize(size - PAYLOAD_NONCE_SIZE)) === size - PAYLOAD_NONCE_SIZE;
  } catch (err) {
    if (isElohimError(err)) return false; // no plaintext gives this size
    throw err;
  }
}

/** Whether a body is shaped like a sealed record: a 64-byte-padded body plus the seal overhead. */
function isRecordBody(bytes: number): boolean {
  return bytes > SEAL_OVERHEAD && (bytes - SEAL_OVERHEAD) % 64 === 0;
}

const unique = (xs: readonly string[]) => [...new Set(xs)].sort();

export function reportOf(ev: Evidence, opts: FeatureOptions): Report {
  const r: Report = {};
  const timeline = timelineOf(ev.audit.entries);
  const tol = opts.toleranceMs;

  // Tell 1: slots and bookkeeping.
  r['slotBookkeeping.passphraseSlots'] = ev.keyslots.slots.filter((s) => s.opens === 'passphrase').map((s) => s.index);
  r['slotBookkeeping.recoverySlots'] = ev.keyslots.slots.filter((s) => s.opens === 'recovery').map((s) => s.index);
  r['slotBookkeeping.metaRecords'] = ev.meta.length;
  r['slotBookkeeping.meta'] = normalizeBook(ev.meta);

  // Tell 2: rows and objects that nothing of the vault explains.
  const unexplainedRows = ev.rows.filter((row) => row.table === 'records' && row.owner === null);
  const unexplainedObjects = ev.objects.filter((o) => !o.referenced);
  r['unexplainedData.coverRows'] = ev.rows.filter((row) => row.owner === 'cover').length;
  r['unexplainedData.rowsPresent'] = unexplainedRows.length > 0;
  r['unexplainedData.rows'] = unexplainedRows.length;
  r['unexplainedData.rowShapes'] = unique(unexplainedRows.map((row) => `id ${row.idBytes} B, tag ${row.tagBytes} B, body ${isRecordBody(row.bodyBytes) ? 'shaped like a sealed record' : `of ${row.bodyBytes} B, unlike a sealed record`}`));
  r['unexplainedData.objectsPresent'] = unexplainedObjects.length > 0;
  r['unexplainedData.objects'] = unexplainedObjects.length;
  r['unexplainedData.objectSizes'] = unexplainedObjects.map((o) => o.size).sort((a, b) => a - b);
  r['unexplainedData.objectShapes'] = unique(unexplainedObjects.map((o) => (isObjectSize(o.size) ? 'nonce ‖ STREAM payload' : `${o.size} B, no possible payload`)));
  const shards = ev.stats.filter((s) => s.kind === 'dir' && /^objects\/[0-9a-f]{2}$/.test(s.path)).map((s) => s.path.slice('objects/'.length));
  const shardHas = (shard: string, referenced: boolean) => ev.objects.some((o) => o.path.startsWith(`${shard}/`) && o.referenced === referenced);
  r['unexplainedData.emptyShards'] = shards.filter((s) => !shardHas(s, true) && !shardHas(s, false)).length;
  r['unexplainedData.shardsOnlyUnexplained'] = shards.filter((s) => !shardHas(s, true) && shardHas(s, false)).length;
  r['unexplainedData.quarantineRows'] = ev.rows.filter((row) => row.table === 'quarantine').length;
  r['unexplainedData.quarantineOwners'] = unique(ev.rows.filter((row) => row.table === 'quarantine').map((row) => row.owner ?? 'unexplained'));
  r['unexplainedData.tempFiles'] = ev.stats.filter((s) => s.path.startsWith('objects/tmp/')).length;
  r['unexplainedData.strayObjectPaths'] = ev.strayObjectPaths;

  // Unexplained objects chaff cannot be, by what the source says chaff is (compare.ts BOUNDS).
  r['chaffPattern.objectsLargerThanChaff'] = unexplainedObjects.filter((o) => o.size > PAYLOAD_NONCE_SIZE + ciphertextSize(CHAFF_MAX_PLAINTEXT)).length;
  const lateBirths = unexplainedObjects
    .map((o) => ev.stats.find((s) => s.path === `objects/${o.path}`)!.birthMs)
    .filter((t) => !['before-setup', 'setup'].includes(bucketOf(t, timeline, tol)))
    .sort((a, b) => a - b);
  const near = (a: number | undefined, b: number | undefined) => a !== undefined && b !== undefined && Math.abs(a - b) < CHAFF_BURST_WINDOW_MS;
  r['chaffPattern.burstsAfterSetup'] = lateBirths.filter((t, i) => near(t, lateBirths[i - 1]) || near(t, lateBirths[i + 1])).length;

  // Tell 3: the stock CLI's nested-decoy capacity from this vault.
  r['nestedCapacity.created'] = ev.nested.created;
  r['nestedCapacity.stop'] = ev.nested.stop;
  r['nestedCapacity.examinedStillOpens'] = ev.nested.examinedStillOpens;
  r['nestedCapacity.outputs'] = ev.nested.outputs;

  // Tells 4 and 5: every time on disk, placed in the vault's history.
  const referenced = new Set(ev.objects.filter((o) => o.referenced).map((o) => o.path));
  const byCategory = new Map<string, PathStat[]>();
  for (const s of ev.stats) {
    const c = categoryOf(s, referenced);
    byCategory.set(c, [...(byCategory.get(c) ?? []), s]);
  }
  for (const [c, members] of [...byCategory].sort(([a], [b]) => (a < b ? -1 : 1))) {
    r[`timestamps.${c}.mtime`] = bucketsOf(members.map((s) => s.mtimeMs), timeline, tol);
    r[`timestamps.${c}.ctime`] = bucketsOf(members.map((s) => s.ctimeMs), timeline, tol);
    r[`timestamps.${c}.atime`] = bucketsOf(members.map((s) => s.atimeMs), timeline, tol);
    r[`creationOrder.${c}.birth`] = bucketsOf(members.map((s) => s.birthMs), timeline, tol);
  }
  r['creationOrder.bookCreated'] = ev.meta.map((m) => (typeof m.created === 'number' ? bucketOf(m.created, timeline, tol) : 'no created field'));
  // Exact, not bucketed: a decoy added later whose dates were copied from elsewhere could show a
  // relation between its two set-up times that one made at set-up never has, or the reverse.
  r['creationOrder.setupEntryMinusBookCreated'] = ev.meta.map((m) =>
    typeof m.created === 'number' ? (timeline.setup === m.created ? 'equal' : timeline.setup > m.created ? 'setup entry later' : 'setup entry earlier') : 'no created field',
  );
  // Not compared: the order of births within one bucket. File times come from the kernel's coarse
  // clock (a few ms per tick), so files made in one tick tie and their order is noise.

  // The examined vault: the same work in it must read the same, and the examiner must have opened it all.
  r['examinedVault.events'] = ev.audit.entries.map((e) => `${e.event} ${JSON.stringify(e.details)}`);
  r['examinedVault.auditVerifies'] = ev.audit.verifyOk ? true : ev.audit.verifyReason;
  r['examinedVault.stores'] = ev.stores.map((s) => ({
    name: s.name,
    kinds: s.kinds,
    damaged: s.damaged,
    seal: s.seal,
    // Every row carrying this store's tag is one of its records, damaged ones, or its seal.
    rowsAccountedFor:
      s.rowsByTag === Object.values(s.kinds).reduce((a, b) => a + b, 0) + s.damaged + ev.rows.filter((row) => row.table === 'records' && row.owner === s.name && row.seal).length,
  }));
  r['examinedVault.items'] = ev.items.map((i) => `${i.kind} ${i.path}${i.size === undefined ? '' : ` ${i.size} B`}${i.trashed ? ' (trashed)' : ''}`);
  r['examinedVault.objectsDecrypt'] = ev.objects.filter((o) => o.decrypts !== undefined).every((o) => o.decrypts);
  r['examinedVault.referencedObjects'] = ev.objects.filter((o) => o.referenced).length;
  r['examinedVault.missingObjects'] = ev.missingObjects;
  r['examinedVault.everyRecoveryCodeOpens'] = ev.keyslots.everyCodeOpens;
  for (const [view, text] of Object.entries(ev.views)) r[`examinedVault.view: elohim ${view}`] = text;

  r['keyslotsFile.size'] = ev.keyslots.size;
  r['keyslotsFile.magic'] = ev.keyslots.magic;
  r['keyslotsFile.version'] = ev.keyslots.version;
  r['keyslotsFile.cost'] = ev.keyslots.cost;
  r['keyslotsFile.costsUsed'] = ev.keyslots.costsUsed;
  r['keyslotsFile.reservedByte'] = ev.keyslots.reserved;
  r['keyslotsFile.argon2'] = ev.keyslots.argon2;
  r['keyslotsFile.unopenedLookRandom'] = ev.keyslots.unopenedLookRandom;

  for (const [k, v] of Object.entries(ev.sqlite.header)) r[`sqliteFile.header.${k}`] = v;
  r['sqliteFile.schema'] = ev.sqlite.schema;
  for (const [t, n] of Object.entries(ev.sqlite.rowCounts)) r[`sqliteFile.rows.${t}`] = n;
  r['sqliteFile.freePagesHoldNoData'] = ev.sqlite.freePagesHoldNoData;
  r['sqliteFile.sidecars'] = ev.sqlite.sidecars;

  r['fileLayout.entries'] = ev.stats
    .filter((s) => !/^objects\/[0-9a-f]{2}(\/|$)/.test(s.path) && !s.path.startsWith('objects/tmp/'))
    .map((s) => `${s.kind} ${s.path === '' ? '.' : s.path} ${s.mode.toString(8)}`);
  // A folder's size grows with the most entries it ever held and never shrinks (ext4), so it
  // could remember files a vault put and deleted.
  r['fileLayout.folderSizes'] = ev.stats.filter((s) => s.kind === 'dir').map((s) => `${s.path === '' ? '.' : s.path.replace(/^objects\/[0-9a-f]{2}$/, 'objects/<shard>')} ${s.size}`).filter((v, i, all) => all.indexOf(v) === i).sort();
  r['fileLayout.objectModes'] = unique(ev.stats.filter((s) => /^objects\/[0-9a-f]{2}(\/|$)/.test(s.path)).map((s) => `${s.kind} ${s.mode.toString(8)}`));
  for (const s of ev.stats.filter((x) => x.kind === 'file' && !x.path.includes('/'))) r[`fileLayout.size.${s.path}`] = s.size;
  for (const [name, text] of Object.entries(ev.smallFiles)) r[`fileLayout.content.${name}`] = text;
  return r;
}
