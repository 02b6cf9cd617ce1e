import { Readable } from 'node:stream';
import { generateFileKey } from '../crypto/age/index.ts';
import { ElohimError, isElohimError } from '../errors.ts';
import { newRecordId } from '../db/index.ts';
import type { RecordId } from '../db/index.ts';
import { checkName, formatVaultPath, showInvisible } from './names.ts';
import { newObjectId, SMALL_OBJECT_MAX } from './objects/index.ts';
import type { ObjectId } from './objects/index.ts';
import type { Item } from './tree.ts';
import type { VaultCore } from './core.ts';
import type { Vault } from './index.ts';
import { abortable } from './abort.ts';

/** Files per transaction when putting many at once: bounds the work lost to a crash. */
const BATCH_FILES = 256;
/** Small files encrypted at once while putting many; async fsyncs overlap on the thread pool. */
const BATCH_CONCURRENCY = 16;

/**
 * Where new files go, shared by the writer and adopt.ts: names checked, missing folders planned,
 * and the check right before a commit of what changed while the bytes were arriving.
 */
export function createPlacement(core: VaultCore) {
  const { tree, clock } = core;
  /** The folder at `names` below `from`, creating missing ones into `pending` (committed by the caller). */
  function folderAt(from: RecordId | null, names: readonly string[], pending: Item[]): RecordId | null {
    let parent = from;
    for (let i = 0; i < names.length; i++) {
      const name = names[i]!;
      const existing: Item | undefined =
        tree.childNamed(parent, name) ?? pending.find((p) => p.parent === parent && p.name === name);
      if (existing !== undefined) {
        if (existing.kind !== 'folder') throw new ElohimError('NOT_A_FOLDER', `${pathBelow(from, names.slice(0, i + 1))} is not a folder`);
        parent = existing.id;
        continue;
      }
      const now = clock();
      const folder: Item = { id: newRecordId(), kind: 'folder', parent, name, created: now, modified: now };
      pending.push(folder);
      parent = folder.id;
    }
    return parent;
  }

  const pathBelow = (from: RecordId | null, names: readonly string[]) => formatVaultPath([...(from === null ? [] : tree.namesOf(from)), ...names]);

  /**
   * checkName for each of `names` below `base`; a refusal says which path it was (one file of
   * a folder of thousands), with invisible characters written out. Throws INVALID_NAME.
   */
  function checkNames(base: RecordId | null, names: readonly string[]): string[] {
    return names.map((name, i) => {
      try {
        return checkName(name);
      } catch (err) {
        if (!isElohimError(err, 'INVALID_NAME')) throw err;
        throw new ElohimError('INVALID_NAME', `${showInvisible(pathBelow(base, names.slice(0, i + 1)))}: ${err.message}`);
      }
    });
  }

  /**
   * Checks again, right before the commit, what may have changed while the bytes were arriving
   * (other puts commit meanwhile): the folder must still be live, and the name still free (or a
   * file, when replacing). Returns the file to replace. No await may come between this and the
   * commit: the commit is synchronous, so the check and the commit are one step in this process.
   *
   * A file put into a folder that was trashed meanwhile fails with ITEM_NOT_FOUND. (A resumable
   * upload lands in the root instead, because its client may be long gone; a PUT's client is
   * waiting for the answer, and a file appearing somewhere it did not ask for would surprise it.)
   */
  function recheck(parent: RecordId | null, name: string, replace: boolean | undefined): Item | undefined {
    if (parent !== null && !tree.isLive(parent)) {
      throw new ElohimError('ITEM_NOT_FOUND', 'the folder was deleted while the file was being written');
    }
    return core.checkFree(parent, name, { replaceFile: replace });
  }

  /**
   * The up-front check of a batch (putMany, adopt): every path's names, none given twice, none
   * taken (a file may be, when replacing). Throws before anything is read or written.
   */
  function checkBatch(base: RecordId | null, paths: readonly (readonly string[])[], replace: boolean | undefined): void {
    const seen = new Set<string>();
    for (const path of paths) {
      const names = checkNames(base, path);
      if (names.length === 0) throw new ElohimError('INVALID_INPUT', 'a file needs a name');
      const key = names.join('/');
      if (seen.has(key)) throw new ElohimError('ITEM_EXISTS', `${pathBelow(base, names)} is given twice`);
      seen.add(key);
      const existing = tree.resolve(names, base);
      if (existing !== undefined && (existing === null || existing.kind === 'folder' || !replace)) {
        throw new ElohimError('ITEM_EXISTS', `${pathBelow(base, names)} already exists`);
      }
    }
  }

  return { folderAt, pathBelow, checkNames, checkBatch, recheck };
}

/** Writing files: one streamed put, or many in batches. */
export function createWriter(core: VaultCore): Pick<Vault, 'put' | 'putMany'> {
  const { tree, records, objects, clock } = core;
  const { folderAt, checkNames, checkBatch, recheck } = createPlacement(core);

  /**
   * Undoes a write that will not be committed (failed, aborted, refused at the commit, or the
   * commit itself failed): its objects go, then its intent. Rethrows `err`, the failure to report.
   */
  async function abandon(ids: ObjectId[], intent: RecordId, err: unknown): Promise<never> {
    for (const id of ids) await objects.remove(id);
    try {
      records.commit({ remove: [intent] });
    } catch {
      // This commit can fail as the first did (a full device): the intent then stays, and with
      // its objects already gone the next open's recovery only drops it.
    }
    throw err;
  }

  return {
    async put(parentId, name, source, opts = {}) {
      opts.signal?.throwIfAborted();
      const base = core.folderById(parentId);
      const pending: Item[] = [];
      const parent = folderAt(base, checkNames(base, opts.folders ?? []), pending);
      const checked = checkName(name);
      // Fail early, before any byte is read; `recheck` decides at the commit.
      if (pending.length === 0) core.checkFree(parent, checked, { replaceFile: opts.replace });
      const fileKey = generateFileKey();
      const object = newObjectId();
      const intent = core.intentRecord([object]);
      records.commit({ put: [intent] });
      try {
        const written = await objects.write(object, abortable(source, opts.signal), fileKey, opts);
        // Stopped (a lock, a panic, the client gone) while the last bytes were sealed: commit nothing.
        opts.signal?.throwIfAborted();
        let existing: Item | undefined;
        if (pending.length === 0) existing = recheck(parent, checked, opts.replace);
        // New folders: the first must still fit where it goes, and the file is alone in the last.
        else recheck(pending[0]!.parent, pending[0]!.name, false);
        const item = core.fileItem(parent, checked, fileKey, object, written);
        const replaced = existing ? [{ ...existing, trashedAt: clock() }] : [];
        core.commit({ put: [...pending, item, ...replaced], removeOther: [intent[0]] });
        return core.info(item);
      } catch (err) {
        return abandon([object], intent[0], err);
      }
    },

    async putMany(parentId, entries, opts = {}) {
      opts.signal?.throwIfAborted();
      const base = core.folderById(parentId);
      checkBatch(base, entries.map((e) => e.names), opts.replace);
      // Every source folder, empty ones included, before any file.
      const pendingFolders: Item[] = [];
      for (const names of opts.folders ?? []) folderAt(base, checkNames(base, names), pendingFolders);
      if (pendingFolders.length > 0) core.commit({ put: pendingFolders });
      let files = 0;
      let bytes = 0;
      for (let start = 0; start < entries.length; start += BATCH_FILES) {
        opts.signal?.throwIfAborted();
        const batch = entries.slice(start, start + BATCH_FILES);
        const pending: Item[] = [];
        const planned = batch.map((entry) => {
          const names = checkNames(base, entry.names);
          return { entry, names, parent: folderAt(base, names.slice(0, -1), pending), object: newObjectId(), fileKey: generateFileKey() };
        });
        const intent = core.intentRecord(planned.map((p) => p.object));
        records.commit({ put: [intent] });
        const done: Item[] = [];
        try {
          let next = 0;
          let failed = false;
          const worker = async () => {
            try {
              while (!failed && next < planned.length) {
                opts.signal?.throwIfAborted();
                const p = planned[next++]!;
                const data = await p.entry.read();
                const written = Buffer.isBuffer(data) && data.length <= SMALL_OBJECT_MAX
                  ? await objects.write(p.object, data, p.fileKey, { inPlace: true })
                  : await objects.write(p.object, abortable(Buffer.isBuffer(data) ? Readable.from([data]) : data, opts.signal), p.fileKey, { signal: opts.signal, sizeHint: p.entry.size });
                done.push(core.fileItem(p.parent, p.names.at(-1)!, p.fileKey, p.object, written));
                files++;
                bytes += written.size;
                opts.onProgress?.({ files, bytes });
              }
            } catch (err) {
              failed = true; // the others take no new file
              throw err;
            }
          };
          // Every worker settles before the batch is undone: one still writing would put its
          // object in place after the clean-up removed it, and leave it there for good.
          const settled = await Promise.allSettled(Array.from({ length: BATCH_CONCURRENCY }, worker));
          const failure = settled.find((r) => r.status === 'rejected');
          if (failure !== undefined) throw failure.reason;
          await objects.syncFolders(planned.map((p) => p.object));
          opts.signal?.throwIfAborted();
          // As in put: what changed while the batch was written decides now, with no await before the commit.
          const replaced: Item[] = [];
          const fresh = new Set(pending.map((f) => f.id));
          for (const folder of pending) if (!fresh.has(folder.parent!)) recheck(folder.parent, folder.name, false);
          for (const item of done) {
            if (fresh.has(item.parent!)) continue;
            const old = recheck(item.parent, item.name, opts.replace);
            if (old !== undefined) replaced.push({ ...old, trashedAt: clock() });
          }
          core.commit({ put: [...pending, ...done, ...replaced], removeOther: [intent[0]] });
        } catch (err) {
          return abandon(planned.map((p) => p.object), intent[0], err);
        }
      }
      return { files, bytes };
    },
  };
}
