/**
 * The examiner's hands on a data folder set up with a deniable store (`init --reserve`, issue 9):
 * with the handed-over passphrase and our source it opens the key slots, finds the region its
 * vault's key opens, decrypts everything in it (rows, audit log, objects), and then looks at
 * every other byte of the store: the other region, and the blocks of its own region that its
 * vault does not use. It reports features under the same tells as features.ts, so compare.ts
 * compares a folder with a used hidden vault against one without by the same rules.
 */
import { createHash } from 'node:crypto';
import { cp, open, readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { auditKeysOf, createAuditLog } from '../../src/audit/index.ts';
import type { AuditRecord } from '../../src/audit/index.ts';
import { createHasherPool, hkdf } from '../../src/crypto/index.ts';
import { fileKeyFromBytes } from '../../src/crypto/age/index.ts';
import { createRecordStore } from '../../src/db/index.ts';
import { vaultRecordKeys } from '../../src/keyring/index.ts';
import { BLOCK, regionKeyOf, regionSize } from '../../src/store/format.ts';
import { createRegionObjects } from '../../src/store/objects.ts';
import { openRegion } from '../../src/store/region.ts';
import type { Region } from '../../src/store/region.ts';
import type { ObjectId } from '../../src/vault/index.ts';
import { byteUniformity } from '../helpers.ts';
import type { Report } from './features.ts';
import { probeNested, sessionViews } from './probe.ts';
import { openSlots } from './slots.ts';
import type { Handover } from './slots.ts';
import { bucketsOf, timelineOf } from './timeline.ts';

const ms = (ns: bigint): number => Number(ns / 1000n) / 1000;

/** Uniformity and repeated blocks of some blocks of the store: what random bytes never show. */
function randomness(blocks: Buffer[]): { verdict: string; repeated: number; z: number } {
  const seen = new Set<string>();
  let repeated = 0;
  for (const b of blocks) {
    const h = createHash('sha256').update(b).digest('hex');
    if (seen.has(h)) repeated++;
    seen.add(h);
  }
  // The histogram over all of them, and over each MiB: a run of filler hides in a large total.
  const all = byteUniformity(Buffer.concat(blocks));
  let worst = all.z;
  for (let i = 0; i < blocks.length; i += 256) worst = Math.max(worst, byteUniformity(Buffer.concat(blocks.slice(i, i + 256))).z);
  return { verdict: worst < 6 ? 'random' : 'not random', repeated, z: worst };
}

/** Examines `home` (a folder with store.bin) with what the user handed over; works on copies. */
export async function examineStore(home: string, handover: Handover, scratch: string, opts: { addDecoyArgs: readonly string[]; toleranceMs: number }): Promise<{ report: Report; detail: Record<string, unknown> }> {
  // Times first: reading a file moves its access time.
  const names = (await readdir(home)).sort();
  const stats = new Map<string, { kind: string; size: number; mode: number; atimeMs: number; mtimeMs: number; ctimeMs: number; birthMs: number }>();
  for (const name of ['', ...names]) {
    const s = await stat(join(home, name), { bigint: true });
    stats.set(name === '' ? '.' : name, {
      kind: s.isFile() ? 'file' : s.isDirectory() ? 'dir' : 'other',
      size: Number(s.size),
      mode: Number(s.mode & 0o777n),
      atimeMs: ms(s.atimeNs),
      mtimeMs: ms(s.mtimeNs),
      ctimeMs: ms(s.ctimeNs),
      birthMs: ms(s.birthtimeNs),
    });
  }
  const image = join(scratch, 'image');
  const probe = join(scratch, 'probe');
  const viewed = join(scratch, 'views');
  for (const copy of [image, probe, viewed]) await cp(home, copy, { recursive: true });
  const nestedRun = probeNested(probe, handover.passphrase, opts.addDecoyArgs);
  const viewsRun = sessionViews(viewed, handover.passphrase);

  const { master, keyslots } = await openSlots(await readFile(join(image, 'keyslots.bin')), handover);
  const derive = (label: string) => hkdf(master, Buffer.alloc(0), label);
  const keys = vaultRecordKeys(derive);
  const storePath = join(image, 'store.bin');
  const size = (await stat(storePath)).size;
  const blocks = regionSize(size) / BLOCK;
  const fh = await open(storePath, 'r+');
  const r: Report = {};
  const detail: Record<string, unknown> = {};
  let region: Region | null = null;
  try {
    const key = regionKeyOf(keys.tag);
    const opened: number[] = [];
    for (const position of [0, 1]) {
      const found = openRegion({ fd: fh.fd, base: position * blocks * BLOCK, blocks }, key);
      if (found === null) continue;
      opened.push(position);
      if (region === null) region = found;
      else found.close();
    }
    if (region === null) throw new Error('the handed-over vault opens no region of the store');
    r['deniableStore.size'] = size;
    r['deniableStore.regionsTheVaultOpens'] = opened;

    const readBlocks = async (base: number, indices: Iterable<number>) => {
      const out: Buffer[] = [];
      for (const i of indices) {
        const b = Buffer.alloc(BLOCK);
        await fh.read(b, 0, BLOCK, base + i * BLOCK);
        out.push(b);
      }
      return out;
    };
    const used = new Set<number>();
    for (const [s, n] of region.usedRuns()) for (let i = s; i < s + n; i++) used.add(i);
    const ownBase = region.io.base;
    const otherBase = ownBase === 0 ? blocks * BLOCK : 0;
    const free = Array.from({ length: blocks }, (_, i) => i).filter((i) => !used.has(i));
    const other = randomness(await readBlocks(otherBase, Array.from({ length: blocks }, (_, i) => i)));
    const spare = randomness(await readBlocks(ownBase, free));
    r['deniableStore.otherRegion'] = other.verdict;
    r['deniableStore.otherRegionRepeatedBlocks'] = other.repeated;
    r['deniableStore.unusedBlocksOfItsRegion'] = spare.verdict;
    r['deniableStore.unusedRepeatedBlocks'] = spare.repeated;
    detail.z = { other: other.z, spare: spare.z, usedBlocks: used.size, freeBlocks: free.length };

    // Its rows: the vault's own records (with the keyring's bookkeeping) and its audit log.
    const vaultStore = createRecordStore<{ t: string; [k: string]: unknown }>({ db: region.db, keys });
    const loaded = vaultStore.load();
    const auditStore = createRecordStore<AuditRecord>({ db: region.db, keys: auditKeysOf(derive) });
    const auditLoad = auditStore.load();
    const log = createAuditLog({ records: auditStore, clock: () => 0 });
    const entries = log.list({ limit: 1000 }).entries.sort((a, b) => a.seq - b.seq);
    const ownRows = loaded.records.size + loaded.damaged.length + 1 + auditLoad.records.size + auditLoad.damaged.length + 1;
    const allRows = (region.db.prepare('SELECT count(*) AS n FROM records').get() as { n: number }).n;
    r['unexplainedData.rowsInItsRegion'] = allRows - ownRows;
    const all = [...loaded.records.values()];
    const setupAt = entries.find((e) => e.event === 'setup')?.at ?? 0;
    r['slotBookkeeping.meta'] = all.filter((x) => x.t === 'meta').map((m) => ({ ...m, created: (m.created as number) - setupAt }));
    r['slotBookkeeping.slotsOpened'] = keyslots.slots.filter((s) => s.opens !== null).map((s) => `${s.index}:${s.opens}`);
    r['keyslotsFile.header'] = { size: keyslots.size, magic: keyslots.magic, version: keyslots.version, cost: keyslots.cost, costsUsed: keyslots.costsUsed };
    r['keyslotsFile.unopenedLookRandom'] = keyslots.unopenedLookRandom;
    r['examinedVault.auditVerifies'] = log.verify().ok;
    r['examinedVault.events'] = entries.map((e) => e.event);
    r['examinedVault.seals'] = [loaded.seal, auditLoad.seal];
    const items = all.filter((x) => x.t === 'item') as unknown as { kind: string; name: string; size?: number; trashedAt?: number; object?: string; fileKey?: string; sha256?: string }[];
    r['examinedVault.items'] = items.map((i) => `${i.kind} ${i.name} ${i.size ?? ''}${i.trashedAt === undefined ? '' : ' trashed'}`).sort();
    const objects = createRegionObjects({ region, fh, hashers: createHasherPool({ maxWorkers: 1 }), clock: () => 0 });
    let decrypts = 0;
    for (const i of items.filter((x) => x.object !== undefined)) {
      const h = createHash('sha256');
      for await (const piece of await objects.read(i.object as ObjectId, fileKeyFromBytes(Buffer.from(i.fileKey!, 'base64')), i.size!)) h.update(piece as Buffer);
      if (h.digest('hex') === i.sha256) decrypts++;
    }
    r['examinedVault.objectsThatDecrypt'] = decrypts;
    r['unexplainedData.objectsInItsRegion'] = [...region.objects.values()].filter((o) => !items.some((i) => i.object === o.id)).length;

    // Files and times.
    const timeline = timelineOf(entries);
    for (const [name, s] of stats) {
      if (name === 'lock') continue; // there only while a process runs
      r[`fileLayout.${name}`] = `${s.kind} ${s.mode.toString(8)} ${s.kind === 'file' ? s.size : ''}`;
      for (const which of ['mtime', 'ctime', 'atime'] as const) {
        r[`timestamps.${name}.${which}`] = bucketsOf([s[`${which}Ms`]], timeline, opts.toleranceMs);
      }
      r[`creationOrder.${name}.birth`] = bucketsOf([s.birthMs], timeline, opts.toleranceMs);
    }
    for (const name of ['config.json', 'unlock-throttle.json']) {
      if (names.includes(name)) r[`fileLayout.${name}.content`] = await readFile(join(image, name), 'utf8');
    }
    const nested = await nestedRun;
    r['nestedCapacity.created'] = nested.created;
    r['nestedCapacity.stop'] = nested.stop;
    r['nestedCapacity.examinedStillOpens'] = nested.examinedStillOpens;
    for (const [view, out] of Object.entries(await viewsRun)) r[`examinedVault.view: elohim ${view}`] = out;
  } finally {
    region?.close();
    await fh.close();
  }
  return { report: r, detail };
}
