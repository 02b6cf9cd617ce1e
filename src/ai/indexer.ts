/**
 * Keeps the assistant's index following the vault: files that arrive, are replaced, moved,
 * renamed, trashed, restored or purged. The vault tells which items each commit touched
 * (VaultDeps.onChange); this queues them and works through the queue one file at a time in the
 * background, so a put never waits for extraction, and the server keeps answering while a first
 * full index runs.
 *
 * Decisions:
 * - A file is (re)indexed when the index has no text for it or its contents hash changed; a
 *   rename or a move changes neither, since excerpts are labelled with the file's current name
 *   and citations carry the item id (the path is looked up when shown).
 * - A folder's change (made, moved, trashed, restored) changes what is live below it without
 *   touching those items. A folder that left the vault takes its files' texts with it (every
 *   indexed file is checked for being live); one that is live has the files below it checked.
 *   The whole vault is walked only at start and rebuild: a walk per folder commit made a sync
 *   adopting files in batches into a few new folders walk 10,000 files per batch (a heap
 *   profile of bench:sync: 330 MiB allocated).
 * - Files are read with a byte range covering what is indexed: the vault logs whole reads as
 *   downloads, and indexing is not the user downloading (a first index would write one audit
 *   entry per file). Ranged reads are authenticated chunk by chunk like any other.
 * - Texts are kept in batches (one commit per BATCH_FILES files or BATCH_CHARS characters): a
 *   first full index seals ~1,400 documents/s in batches against ~335 one by one (bench).
 */
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { RecordId } from '../db/index.ts';
import { isElohimError, toElohimError } from '../errors.ts';
import type { EntryInfo, Vault } from '../vault/index.ts';
import type { Assistant } from './assistant.ts';
import { bytesToRead } from './documents.ts';
import type { Extractor } from './extractor.ts';

const BATCH_FILES = 50;
const BATCH_CHARS = 4_000_000;
/** Failures kept for the status (the newest). */
const MAX_FAILED = 50;

export interface IndexStatus {
  documents: number;
  chunks: number;
  /** chunks with a dense vector under the configured embedding model */
  vectors: number;
  state: 'idle' | 'indexing';
  /** files checked and files queued in the current run */
  done: number;
  total: number;
  /** files of a format the index does not read, or too large */
  skipped: number;
  /** files that claim a format they do not have (a PDF that is not one), newest last */
  failed: { item: string; name: string; reason: string }[];
  /** files whose text is longer than the index keeps: only their start is indexed */
  truncated: { item: string; name: string }[];
}

export interface Indexer {
  /** Checks the whole vault against the index (at unlock: files put by another face meanwhile). */
  start(): void;
  /** The vault committed a change to these items. */
  changed(items: readonly string[]): void;
  /** Forgets every indexed text and indexes the whole vault again. */
  rebuild(): void;
  status(): IndexStatus;
  /** Resolves when the queue is empty (the CLI's `ai index rebuild`, tests). */
  idle(): Promise<void>;
  stop(): void;
}

export interface IndexerDeps {
  vault: Vault;
  assistant: Pick<Assistant, 'indexDocuments' | 'removeDocument' | 'index' | 'store'>;
  /** the workspace's: nothing is read or committed after it aborts */
  signal: AbortSignal;
  /** reads files' text (PDF and DOCX on a worker thread) */
  extractor: Extractor;
  /** called after a file's text was indexed (dense vectors follow it) */
  onIndexed?: (items: readonly string[]) => void;
  /** vectors held now, for the status */
  vectors?: () => number;
  /** an unforeseen failure (not a bad file): logged by the caller, never thrown into the vault */
  onError?: (err: unknown) => void;
}

export function createIndexer(deps: IndexerDeps): Indexer {
  const { vault, assistant, signal } = deps;
  const store = assistant.store;
  const pending = new Set<string>();
  let sweep = false;
  /** live folders changed since the last step: the files below them are checked */
  const folders = new Set<string>();
  /** a folder left the vault: indexed files no longer live are dropped */
  let prune = false;
  let running: Promise<void> | null = null;
  let done = 0;
  let total = 0;
  let skipped = 0;
  const failed: IndexStatus['failed'] = [];
  /** items skipped or failed at a given hash: not read again until they change */
  const settled = new Map<string, string>();

  const schedule = () => {
    if (running !== null || signal.aborted) return;
    running = run()
      .catch((err: unknown) => {
        if (!signal.aborted) deps.onError?.(err);
      })
      .finally(() => {
        running = null;
        // work queued while the last step was finishing
        if ((pending.size > 0 || sweep || folders.size > 0 || prune) && !signal.aborted) schedule();
        else {
          done = 0;
          total = 0;
        }
      });
  };

  const vaultName = (item: string): string | null => liveItem(vault, item)?.name ?? null;

  /** Every live file of the vault, by id. */
  function liveFiles(): Map<string, EntryInfo> {
    const files = new Map<string, EntryInfo>();
    const walk = (folder: string | null) => {
      for (const entry of vault.children(folder)) {
        if (entry.kind === 'folder') walk(entry.id);
        else files.set(entry.id, entry);
      }
    };
    walk(null);
    return files;
  }

  /** Queues a live file whose text the index lacks or has for other contents. */
  function consider(entry: EntryInfo): void {
    const info = store.documentInfo(entry.id);
    const sha = vault.sha256Of(entry.id);
    if (info !== null && info.sha256 === sha) return;
    if (settled.get(entry.id) === sha) return;
    if (bytesToRead(entry.name, entry.size) === null) return;
    if (!pending.has(entry.id)) {
      pending.add(entry.id);
      total++;
    }
  }

  function doSweep(): void {
    const live = liveFiles();
    for (const item of store.documentItems()) {
      const entry = live.get(item);
      if (entry === undefined || bytesToRead(entry.name, entry.size) === null) assistant.removeDocument(item);
    }
    for (const entry of live.values()) consider(entry);
  }

  /** Drops the texts of indexed files that are no longer live (their folder went). */
  function pruneGone(): void {
    for (const item of store.documentItems()) if (liveItem(vault, item) === null) assistant.removeDocument(item);
  }

  /** Checks the files below a folder that changed (restored, moved, made). */
  function checkUnder(folder: string): void {
    const walk = (f: string) => {
      for (const entry of vault.children(f)) {
        if (entry.kind === 'folder') walk(entry.id);
        else consider(entry);
      }
    };
    try {
      walk(folder);
    } catch (err) {
      // it went meanwhile: what was below it goes too
      if (!isElohimError(err, 'ITEM_NOT_FOUND')) throw err;
      prune = true;
    }
  }

  const fail = (entry: EntryInfo, reason: string, sha: string) => {
    settled.set(entry.id, sha);
    failed.push({ item: entry.id, name: entry.name, reason });
    if (failed.length > MAX_FAILED) failed.shift();
  };

  /** Reads and extracts one file; null when there is nothing to index for it. */
  async function textOf(entry: EntryInfo, sha: string): Promise<{ item: string; name: string; text: string; sha256: string; truncated: boolean } | null> {
    const plan = bytesToRead(entry.name, entry.size);
    if (plan === null) return null;
    if ('skip' in plan) {
      skipped++;
      fail(entry, plan.skip, sha);
      return null;
    }
    let bytes: Uint8Array = new Uint8Array(0);
    if (plan.bytes > 0) {
      const { stream } = await vault.read(entry.id, { range: { start: 0, end: plan.bytes }, signal });
      const parts: Buffer[] = [];
      for await (const part of stream) parts.push(part as Buffer);
      bytes = Buffer.concat(parts);
    }
    const found = await deps.extractor.extract(entry.name, bytes, { truncated: plan.truncated, signal });
    if (found === null) {
      // not text after all (binary under a .txt name): nothing to index, and not an error
      skipped++;
      settled.set(entry.id, sha);
      return null;
    }
    if (!found.ok) {
      fail(entry, found.reason, sha);
      return null;
    }
    return { item: entry.id, name: entry.name, text: found.text, sha256: sha, truncated: found.truncated };
  }

  async function run(): Promise<void> {
    let batch: { item: string; name: string; text: string; sha256: string; truncated: boolean }[] = [];
    let chars = 0;
    const flush = () => {
      if (batch.length === 0) return;
      signal.throwIfAborted();
      assistant.indexDocuments(batch);
      deps.onIndexed?.(batch.map((d) => d.item));
      batch = [];
      chars = 0;
    };
    while (!signal.aborted) {
      if (sweep) {
        sweep = false;
        folders.clear();
        prune = false;
        doSweep();
      }
      if (folders.size > 0) {
        const changed = [...folders];
        folders.clear();
        for (const f of changed) checkUnder(f);
      }
      if (prune) {
        prune = false;
        pruneGone();
      }
      const next = pending.values().next();
      if (next.done) break;
      const id = next.value;
      pending.delete(id);
      done++;
      // the newest text for an item waiting in the batch is read again below: keep order
      if (batch.some((d) => d.item === id)) flush();
      let entry: EntryInfo;
      try {
        entry = vault.item(id);
      } catch (err) {
        if (!isElohimError(err, 'ITEM_NOT_FOUND')) throw err;
        // trashed, purged, or inside a folder that was: gone from the index
        if (store.documentInfo(id) !== null) assistant.removeDocument(id);
        // not a document: perhaps a folder, whose files went with it
        else prune = true;
        continue;
      }
      if (entry.kind === 'folder') {
        folders.add(id);
        continue;
      }
      const sha = vault.sha256Of(id);
      const known = store.documentInfo(id);
      // renamed to a name the index does not read ("notes.txt" → "notes.bin"): its text goes
      if (bytesToRead(entry.name, entry.size) === null) {
        if (known !== null) assistant.removeDocument(id);
        continue;
      }
      if (known !== null && known.sha256 === sha) continue;
      if (settled.get(id) === sha) continue;
      try {
        const doc = await textOf(entry, sha);
        if (doc !== null) {
          batch.push(doc);
          chars += doc.text.length;
        } else if (known !== null) {
          // replaced by contents that are no longer text (or no longer parse): the old text is stale
          assistant.removeDocument(id);
        }
      } catch (err) {
        if (signal.aborted) throw err;
        const e = toElohimError(err);
        // the file went meanwhile, or its object is damaged: say so, index the rest
        if (e.code === 'INTERNAL') deps.onError?.(err);
        fail(entry, e.message, sha);
      }
      if (batch.length >= BATCH_FILES || chars >= BATCH_CHARS || pending.size === 0) flush();
      await yieldToLoop();
    }
    flush();
  }

  return {
    start() {
      sweep = true;
      schedule();
    },
    changed(items) {
      for (const id of items) {
        if (!pending.has(id)) {
          pending.add(id);
          total++;
        }
      }
      schedule();
    },
    rebuild() {
      for (const item of store.documentItems()) assistant.removeDocument(item);
      settled.clear();
      failed.length = 0;
      skipped = 0;
      sweep = true;
      schedule();
    },
    status() {
      return {
        documents: assistant.index.documents,
        chunks: assistant.index.chunks,
        vectors: deps.vectors?.() ?? 0,
        state: running === null ? 'idle' : 'indexing',
        done,
        total: Math.max(total, done),
        skipped,
        failed: [...failed],
        // kept with each text, so it is known after an unlock too
        truncated: store.documentItems().flatMap((item) => {
          const info = store.documentInfo(item);
          return info?.truncated ? [{ item, name: vaultName(item) ?? info.name }] : [];
        }),
      };
    },
    async idle() {
      while (running !== null) await running;
    },
    stop() {
      pending.clear();
      sweep = false;
      folders.clear();
      prune = false;
      void deps.extractor.close();
    },
  };
}

/** The live item with this id, or null when it is not in the vault (trashed, purged, never). */
export function liveItem(vault: Vault, id: string): EntryInfo | null {
  try {
    return vault.item(id);
  } catch (err) {
    if (isElohimError(err, 'ITEM_NOT_FOUND')) return null;
    throw err;
  }
}
