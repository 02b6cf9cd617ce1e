/**
 * For tests of shares and sync: a device is a real vault (testing.ts of vault/: SQLite, sealed
 * records, objects on disk, real ciphers) with a real share service, and devices talk through
 * an in-memory mesh: channels that carry the same messages a libp2p stream does, in order, with
 * a hook that sees (or changes) every message on the way, as a wire would.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { constants as perfConstants, PerformanceObserver } from 'node:perf_hooks';
import { generateHybridIdentity, generateX25519Identity } from '../../crypto/age/index.ts';
import { createHasherPool } from '../../crypto/index.ts';
import { createRecordStore, openDatabase } from '../../db/index.ts';
import type { Database, RecordStore } from '../../db/index.ts';
import { ElohimError } from '../../errors.ts';
import { AUDIT_RECORD_KINDS, createAuditLog } from '../../audit/index.ts';
import type { AuditLog, AuditRecord } from '../../audit/index.ts';
import { createObjectStore } from '../../vault/index.ts';
import type { ObjectStore } from '../../vault/index.ts';
import { openTestVault } from '../../vault/testing.ts';
import type { TestVault } from '../../vault/testing.ts';
import type { Channel } from '../sync/frame.ts';
import { createShareService } from './service.ts';
import type { MeshForSync, ShareService } from './service.ts';
import { openSyncStore, SYNC_RECORD_KINDS, syncRecordKeysOf } from './store.ts';
import { OBJECT_IDS_LABEL } from './objects.ts';
import type { SyncRecord } from './store.ts';

type Handler = (channel: Channel & { peer: string }, peer: { deviceId: string }) => Promise<void>;

export interface MemoryHub {
  devices: Map<string, { handlers: Map<string, Handler>; online: boolean }>;
  /** sees every message; may return another to send instead, or throw to cut the connection */
  tap?: (from: string, to: string, msg: Uint8Array) => Uint8Array;
}

function pipePair(hub: MemoryHub, a: string, b: string): [Channel & { peer: string }, Channel & { peer: string }, () => void] {
  const queues: [Uint8Array[], Uint8Array[]] = [[], []];
  const waiters: [((m: Uint8Array | null) => void) | null, ((m: Uint8Array | null) => void) | null] = [null, null];
  const closed = [false, false];
  const end = (i: 0 | 1, peer: string, from: string): Channel & { peer: string } => ({
    peer,
    async send(msg) {
      if (closed[i] || closed[1 - i]) throw new ElohimError('MESH_STREAM_CLOSED');
      let out = Buffer.from(msg);
      try {
        const tap = hub.tap;
        if (tap) out = Buffer.from(tap(from, peer, out));
      } catch (err) {
        closed[0] = closed[1] = true;
        for (const w of waiters) w?.(null);
        throw err;
      }
      const j = 1 - i;
      const w = waiters[j];
      if (w) {
        waiters[j] = null;
        w(out);
      } else queues[j]!.push(out);
      await new Promise((r) => setImmediate(r));
    },
    receive(opts) {
      const q = queues[i];
      if (q.length > 0) return Promise.resolve(q.shift()!);
      if (closed[i]) return Promise.resolve(null);
      const signal = opts?.signal;
      if (signal?.aborted) return Promise.reject(signal.reason);
      // An abort ends the wait (as libp2p's stream read does): a session told to stop does not
      // wait for a message that never comes.
      return new Promise((resolve, reject) => {
        const onAbort = () => {
          if (waiters[i] === settle) waiters[i] = null;
          reject(signal!.reason);
        };
        const settle = (m: Uint8Array | null) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(m);
        };
        waiters[i] = settle;
        signal?.addEventListener('abort', onAbort, { once: true });
      });
    },
  });
  // Either side failing resets the stream, as libp2p does: the other reads the end.
  const reset = () => {
    closed[0] = closed[1] = true;
    for (const w of waiters) w?.(null);
  };
  return [end(0, b, a), end(1, a, b), reset];
}

export function memoryMesh(hub: MemoryHub, me: string, identities: string[], recipients: string[], peers: () => { deviceId: string; name: string; recipients: string[] }[]): MeshForSync {
  hub.devices.set(me, { handlers: new Map(), online: true });
  return {
    deviceId: me,
    handle: (protocol, handler) => hub.devices.get(me)!.handlers.set(protocol, handler),
    unhandle: (protocol) => hub.devices.get(me)!.handlers.delete(protocol),
    async withChannel<T>(device: string, protocol: string, fn: (ch: Channel) => Promise<T>): Promise<T> {
      const other = hub.devices.get(device);
      if (!other?.online || !hub.devices.get(me)!.online) throw new ElohimError('MESH_PEER_UNREACHABLE');
      const handler = other.handlers.get(protocol);
      if (!handler) throw new ElohimError('MESH_PEER_UNREACHABLE');
      const [mine, theirs, reset] = pipePair(hub, me, device);
      const served = handler(theirs, { deviceId: me }).catch((err) => {
        reset();
        return err;
      });
      let result: T;
      try {
        result = await fn(mine);
      } catch (err) {
        reset();
        await served;
        throw err;
      }
      const err = await served;
      if (err instanceof Error) throw err;
      return result;
    },
    peers: () => peers().map((p) => ({ ...p, online: hub.devices.get(p.deviceId)?.online ?? false })),
    ageIdentities: () => identities,
    recipients: () => recipients,
  };
}

export interface TestDevice {
  id: string;
  name: string;
  tv: TestVault;
  shares: ShareService;
  recipients: string[];
  db: Database;
  audit: AuditLog;
  /** the audit log's rows, for tests that delete or replace them */
  auditRecords: { clear(): number };
  /** the key of its share objects' ids in the pool (objects.ts) */
  objectKey: Buffer;
  /** the shares' sealed records, as a process without the shares service reads them (holder.ts) */
  syncRecords: RecordStore<SyncRecord>;
  close(): Promise<void>;
}

/** A new hub with these devices on it (in this order), each closed when the test ends: how most tests begin. */
export async function testDevices<const N extends readonly string[]>(t: { after(fn: () => Promise<void>): void }, names: N): Promise<{ hub: MemoryHub; devices: { -readonly [K in keyof N]: TestDevice } }> {
  const hub: MemoryHub = { devices: new Map() };
  const all: TestDevice[] = [];
  t.after(async () => {
    for (const d of all) await d.close();
  });
  for (const name of names) await testDevice(hub, name, all);
  return { hub, devices: all.slice() as { -readonly [K in keyof N]: TestDevice } };
}

/**
 * A device on the hub; `pq`: its age identity is the hybrid post-quantum type; `pool`: an
 * objects folder shared with other devices made with it (two vaults of one data folder).
 */
export async function testDevice(hub: MemoryHub, name: string, all: TestDevice[], opts: { pq?: boolean; pool?: string; derive?: (label: string) => Buffer; clock?: () => number; noStaging?: boolean; objects?: (store: ObjectStore) => ObjectStore; showHeapGrowth?: number } = {}): Promise<TestDevice> {
  // `clock`: the vault's (items' created/modified times), e.g. one that counts, to see commit order.
  const tv = await openTestVault({ pool: opts.pool, clock: opts.clock });
  // `derive`: the shares' keys as app.ts derives them from a vault key (holder.ts reads them so).
  const objectKey = opts.derive?.(OBJECT_IDS_LABEL) ?? randomBytes(32);
  const id = `12D3Koo${name}${randomBytes(4).toString('hex')}`;
  const pair = opts.pq ? generateHybridIdentity() : generateX25519Identity();
  const db = openDatabase(join(tv.dir, 'sync.sqlite'));
  const records = createRecordStore<SyncRecord>({ db, keys: opts.derive ? syncRecordKeysOf(opts.derive) : { seal: randomBytes(32) as never, tag: randomBytes(32) }, kinds: SYNC_RECORD_KINDS });
  const hashers = createHasherPool({ maxWorkers: 1 });
  const controller = new AbortController();
  const mesh = memoryMesh(hub, id, [pair.identity], [pair.recipient], () => all.filter((d) => d.id !== id).map((d) => ({ deviceId: d.id, name: d.name, recipients: d.recipients })));
  const auditRecords = createRecordStore<AuditRecord>({ db, keys: { seal: randomBytes(32) as never, tag: randomBytes(32) }, kinds: AUDIT_RECORD_KINDS });
  const audit = createAuditLog({ records: auditRecords, clock: Date.now });
  audit.append('setup');
  const shares = createShareService({
    audit,
    mesh,
    vault: tv.vault,
    // `objects`: a test's view of the store the service uses (to act at a given moment of a sync)
    objects: (opts.objects ?? ((o) => o))(createObjectStore({ root: opts.pool ?? join(tv.dir, 'objects'), hashers })),
    store: openSyncStore(records),
    signingSeed: randomBytes(32),
    objectKey,
    deviceName: () => name,
    // `noStaging`: as in a data folder with a deniable store (app.ts passes null there)
    staging: opts.noStaging ? null : join(tv.dir, 'objects', 'tmp', 'mesh'),
    clock: Date.now,
    signal: controller.signal,
    // `showHeapGrowth`: a smaller heap growth that collects while files are shown (bridge.ts)
    showHeapGrowth: opts.showHeapGrowth,
  });
  shares.start();
  const device: TestDevice = {
    id,
    name,
    tv,
    shares,
    recipients: [pair.recipient],
    db,
    audit,
    auditRecords,
    objectKey,
    syncRecords: records,
    async close() {
      controller.abort();
      shares.stop();
      db.close();
      await tv.close();
    },
  };
  all.push(device);
  return device;
}

/**
 * The start times of the full collections the code forces (collect.ts, gc.ts) from now until the
 * test ends, as Node's gc performance entries report them (delivered a moment after each).
 */
export function forcedCollections(t: { after(fn: () => void): void }): number[] {
  const forced: number[] = [];
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const flags = (e as { detail?: { flags?: number } }).detail?.flags ?? 0;
      if (flags & perfConstants.NODE_PERFORMANCE_GC_FLAGS_FORCED) forced.push(e.startTime);
    }
  });
  observer.observe({ entryTypes: ['gc'] });
  t.after(() => observer.disconnect());
  return forced;
}
