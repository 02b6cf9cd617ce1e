import { randomBytes, randomInt } from 'node:crypto';
import { existsSync, rmSync } from 'node:fs';
import { mkdir, open as openFile, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { auditKeys, createAuditLog, DEFAULT_AUDIT_RETENTION_DAYS } from '../audit/index.ts';
import type { AuditDetails, AuditEvent, AuditLog, AuditRecord } from '../audit/index.ts';
import { x25519IdentityFromSecret } from '../crypto/age/index.ts';
import { asSealKey, createHasherPool, DEFAULT_ARGON2, hkdf } from '../crypto/index.ts';
import type { Argon2Params, SealKey } from '../crypto/index.ts';
import { openDatabase } from '../db/index.ts';
import type { Database } from '../db/index.ts';
import { ElohimError, isElohimError } from '../errors.ts';
import { writeFileAtomic } from '../fs/index.ts';
import {
  createKeySlots,
  decodeKeySlots,
  encodeKeySlots,
  findPassphraseSlot,
  findSlot,
  generateRecoveryCode,
  KDF_COSTS,
  passphraseKey,
  recoveryKey,
  sealSlot,
  SLOT_COUNT,
  SLOT_SIZE,
} from '../keyring/keyslots.ts';
import type { KdfCost, KeySlots } from '../keyring/keyslots.ts';
import { createObjectStore } from './objects.ts';
import { createRecordStore } from '../db/index.ts';
import { createThrottle } from '../keyring/throttle.ts';
import { openVault } from './vault.ts';
import type { MetaRecord, Vault, VaultRecord } from './vault.ts';
import type { ObjectId } from './objects.ts';
import { processAlive } from '../fs/index.ts';

export const RECOVERY_CODE_COUNT = 10;
/** Slots one vault uses: its passphrase and its recovery codes. */
const SLOTS_PER_VAULT = 1 + RECOVERY_CODE_COUNT;

/**
 * Appends to an audit log without ever blocking the user's work on it: a log that fails to
 * verify refuses appends (so damage is never papered over), and `audit verify` reports it.
 */
function record(audit: AuditLog, event: AuditEvent, details?: AuditDetails): void {
  try {
    audit.append(event, details);
  } catch (err) {
    if (!isElohimError(err, 'AUDIT_CHAIN_BROKEN')) throw err;
  }
}

function requireMeta(vault: Vault): MetaRecord {
  const meta = vault.meta();
  if (meta === null) throw new ElohimError('VAULT_CORRUPT', 'the vault has no key-slot record');
  return meta;
}

export type UnlockSecret = { passphrase: string } | { recoveryCode: string };

export interface UnlockOptions {
  /** Called before sleeping out a delay earned by earlier failures. */
  onWait?: (ms: number) => void;
  /** Throw VAULT_RATE_LIMITED instead of waiting (for servers, which must not hold a request). */
  noWait?: boolean;
}

/** An open vault plus the key operations that need its master key. */
export interface UnlockedVault {
  vault: Vault;
  /** true when a recovery code (not the passphrase) opened it */
  viaRecoveryCode: boolean;
  /** Re-seals this vault's passphrase slot under a new passphrase; files are not touched. */
  changePassphrase(newPassphrase: string): Promise<void>;
  /** Creates a decoy vault opened by `passphrase`; returns its recovery codes. */
  addCompanion(passphrase: string): Promise<{ recoveryCodes: string[] }>;
  /** Whether this vault has created a decoy vault. */
  hasCompanion(): boolean;
  /**
   * Destroys this vault's decoy, and any decoy that one created in turn: key slots overwritten
   * with random bytes, records and objects deleted. Throws DECOY_NOT_FOUND when there is none.
   */
  removeCompanion(): Promise<void>;
  /** This vault's tamper-evident audit log. */
  audit: AuditLog;
  /**
   * Drops the master key from memory. The vault object must not be used afterwards. With an
   * event ('lock', 'auto-lock', 'panic') the audit log records why, first.
   */
  lock(event?: 'lock' | 'auto-lock' | 'panic'): void;
}

/**
 * Everything under $ELOHIM_HOME: the key-slot file, the shared database and object pool, and
 * the vaults they hold. See the README's threat model for what the decoy does and does not hide.
 */
export function createHome(deps: { dir: string; clock?: () => number }) {
  const dir = deps.dir;
  const clock = deps.clock ?? Date.now;
  const paths = {
    keyslots: join(dir, 'keyslots.bin'),
    db: join(dir, 'db.sqlite'),
    objects: join(dir, 'objects'),
    config: join(dir, 'config.json'),
    throttle: join(dir, 'unlock-throttle.json'),
    lock: join(dir, 'lock'),
  };
  const throttle = createThrottle({ path: paths.throttle, clock });
  const hashers = createHasherPool({ maxWorkers: 2 });
  let db: Database | null = null;
  let lockHeld = false;
  let acquiring: Promise<void> | null = null;
  const lockNonce = randomBytes(8).toString('hex');
  let initializing = false;
  /**
   * Serialises every read-modify-write of keyslots.bin in this process (unlock's search and
   * re-seal, passphrase change, decoy creation and removal, cost change): each reads the file,
   * changes a slot and writes it whole, so two at once would lose one's change.
   */
  let slotsQueue: Promise<unknown> = Promise.resolve();
  function exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = slotsQueue.then(fn, fn);
    slotsQueue = run.catch(() => {});
    return run;
  }
  /**
   * Vaults open in this process, by a handle derived from the master key: a second unlock of
   * the same vault (another browser tab, a recovery code) shares the first one's index and
   * audit-log head instead of opening a rival copy that would fork them.
   */
  const openVaults = new Map<string, { vault: Vault; audit: AuditLog; refs: number }>();

  /**
   * One process at a time opens vaults here (the server, or one CLI command): each keeps an
   * index and an audit-log head in memory, and two writers would fork them. The lock file holds
   * the owner's pid; a lock left by a dead process is taken over.
   */
  async function acquireLock(): Promise<void> {
    if (lockHeld) return;
    // Concurrent unlocks in this process share one attempt rather than race each other.
    acquiring ??= takeLock().finally(() => (acquiring = null));
    return acquiring;
  }

  async function takeLock(): Promise<void> {
    // The pid says who holds it; the nonce says whether that is us, since a container restarts
    // its server with the same pid every time and a killed run's lock must not look alive.
    const mine = `${process.pid} ${lockNonce}`;
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        await writeFile(paths.lock, mine, { flag: 'wx', mode: 0o600 });
        lockHeld = true;
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const [pidText, nonce] = (await readFile(paths.lock, 'utf8').catch(() => '')).trim().split(' ');
      const pid = Number(pidText);
      const alive = Number.isSafeInteger(pid) && pid > 0 && (pid === process.pid ? nonce === lockNonce : processAlive(pid));
      if (alive) {
        throw new ElohimError('VAULT_BUSY', `another ElohimOS process (pid ${pid}) is using this data folder; use it (the server's API or UI), or stop it`);
      }
      await rm(paths.lock, { force: true });
    }
    throw new ElohimError('VAULT_BUSY', 'could not take the lock on this data folder');
  }

  const database = (): Database => (db ??= openDatabase(paths.db));

  async function readSlots(): Promise<KeySlots> {
    let buf: Buffer;
    try {
      buf = await readFile(paths.keyslots);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new ElohimError('VAULT_NOT_INITIALIZED', 'no vault here yet: run `elohim init`, or set one up in the app');
      }
      throw err;
    }
    return decodeKeySlots(buf);
  }

  function keysOf(master: Buffer) {
    return {
      records: { seal: asSealKey(hkdf(master, Buffer.alloc(0), 'elohim/v1 record seal')), tag: hkdf(master, Buffer.alloc(0), 'elohim/v1 record tag') },
      identity: x25519IdentityFromSecret(hkdf(master, Buffer.alloc(0), 'elohim/v1 age identity')),
    };
  }

  /** A vault and its audit log, both under keys derived from `master`. */
  async function open(master: Buffer): Promise<{ vault: Vault; audit: AuditLog }> {
    const keys = keysOf(master);
    const audit = createAuditLog({ records: createRecordStore<AuditRecord>({ db: database(), keys: auditKeys(master) }), clock });
    const vault = await openVault({
      records: createRecordStore<VaultRecord>({ db: database(), keys: keys.records }),
      objects: createObjectStore({ root: paths.objects, hashers }),
      clock,
      identity: keys.identity,
      hashers,
      onEvent: (event, details) => record(audit, event, details),
    });
    return { vault, audit };
  }

  /** Picks `count` random free slots, avoiding `taken`. */
  function pickSlots(taken: Set<number>, count: number): number[] {
    const free = Array.from({ length: SLOT_COUNT }, (_, i) => i).filter((i) => !taken.has(i));
    if (free.length < count) throw new ElohimError('VAULT_NO_FREE_SLOT');
    for (let i = free.length - 1; i > 0; i--) {
      const j = randomInt(i + 1);
      [free[i], free[j]] = [free[j]!, free[i]!];
    }
    return free.slice(0, count);
  }

  /** Seals a new vault's passphrase and recovery codes into `slots`; returns the codes. */
  function fillSlots(ks: KeySlots, master: Buffer, passKey: SealKey, indices: number[]): string[] {
    const [passIndex, ...recoveryIndices] = indices;
    ks.slots[passIndex!] = sealSlot(passKey, passIndex!, { kind: 'passphrase', master });
    return recoveryIndices.map((index) => {
      const code = generateRecoveryCode();
      ks.slots[index] = sealSlot(recoveryKey(ks, code), index, { kind: 'recovery', master });
      return code;
    });
  }

  /** A new vault in free slots: the slots its creator knew were taken are reserved for good. */
  function createVaultIn(ks: KeySlots, passKey: SealKey, taken: Set<number>) {
    const indices = pickSlots(taken, SLOTS_PER_VAULT);
    const master = randomBytes(32);
    const codes = fillSlots(ks, master, passKey, indices);
    const meta: MetaRecord = {
      t: 'meta',
      passphraseSlot: indices[0]!,
      recoverySlots: indices.slice(1),
      reservedSlots: [...taken].sort((a, b) => a - b),
      hasCompanion: false,
      created: clock(),
    };
    return { master, codes, meta };
  }

  /**
   * Deletes every record and object that `master` owns: a vault's items, intents, uploads and
   * meta, and its audit log. Returns the meta record it found (null when already gone), so a
   * removal interrupted by a crash can simply run again.
   */
  async function wipe(master: Buffer): Promise<MetaRecord | null> {
    const store = createRecordStore<VaultRecord>({ db: database(), keys: keysOf(master).records });
    const all = store.loadAll();
    const objectIds = new Set<ObjectId>();
    let meta: MetaRecord | null = null;
    for (const rec of all.values()) {
      if (rec.t === 'item' && rec.object !== undefined) objectIds.add(rec.object);
      else if (rec.t === 'intent') for (const id of rec.objects) objectIds.add(id);
      else if (rec.t === 'upload') objectIds.add(rec.object);
      else if (rec.t === 'meta') meta = rec;
    }
    const objects = createObjectStore({ root: paths.objects, hashers });
    for (const id of objectIds) await objects.remove(id);
    store.commit({ remove: all.keys() });
    const audit = createRecordStore<AuditRecord>({ db: database(), keys: auditKeys(master) });
    audit.commit({ remove: audit.loadAll().keys() });
    return meta;
  }

  /** The meta record `master` owns, read without opening the vault. */
  function metaOf(master: Buffer): MetaRecord | null {
    for (const rec of createRecordStore<VaultRecord>({ db: database(), keys: keysOf(master).records }).loadAll().values()) {
      if (rec.t === 'meta') return rec;
    }
    return null;
  }

  const openHandle = (master: Buffer) => hkdf(master, Buffer.alloc(0), 'elohim/v1 open handle').toString('hex');

  const ownSlots = (meta: MetaRecord) => [meta.passphraseSlot, ...meta.recoverySlots];
  /** Every slot a vault knows is in use: its own and those it reserved. */
  const slotsOf = (meta: MetaRecord) => new Set([...ownSlots(meta), ...meta.reservedSlots]);

  /** Waits out the delay earned by failed attempts; throws VAULT_RATE_LIMITED with `noWait`. */
  async function waitTurn(opts: UnlockOptions): Promise<void> {
    const wait = await throttle.waitMs();
    if (wait <= 0) return;
    if (opts.noWait) throw new ElohimError('VAULT_RATE_LIMITED', `too many failed attempts; try again in ${Math.ceil(wait / 1000)} s`);
    opts.onWait?.(wait);
    await sleep(wait);
  }

  /**
   * The key for a new passphrase, refusing one that already opens a slot (two vaults on one
   * passphrase would make one unreachable). That refusal tells the caller the passphrase is in
   * use, so it is throttled exactly like a failed unlock, and worded without naming a vault.
   */
  async function newPassphraseKey(ks: KeySlots, passphrase: string, allowedSlot: number | null, opts: UnlockOptions): Promise<SealKey> {
    await waitTurn(opts);
    const { found: clash, key } = await findPassphraseSlot(ks, passphrase);
    if (clash !== null && clash.index !== allowedSlot) {
      await throttle.fail();
      throw new ElohimError('INVALID_INPUT', 'choose a different passphrase');
    }
    return key;
  }

  return {
    dir,
    paths,

    isInitialized(): boolean {
      return existsSync(paths.keyslots);
    },

    /**
     * Creates the vault (and a decoy when `decoyPassphrase` is given). Returns the recovery
     * codes, which exist nowhere else: the caller shows them once.
     */
    async init(opts: { passphrase: string; decoyPassphrase?: string; argon2?: Argon2Params; kdfCost?: KdfCost }) {
      if (initializing || existsSync(paths.keyslots)) throw new ElohimError('VAULT_ALREADY_INITIALIZED', 'a vault already exists here');
      if (opts.decoyPassphrase !== undefined && opts.decoyPassphrase === opts.passphrase) {
        throw new ElohimError('INVALID_INPUT', 'the decoy passphrase must differ from the passphrase');
      }
      // Set before the first await: a second init in this process (a double-clicked setup)
      // must not pass the check above while this one runs. Other processes meet the lock.
      initializing = true;
      try {
        await mkdir(paths.objects, { recursive: true, mode: 0o700 });
        await acquireLock();
        const ks = createKeySlots(opts.argon2 ?? DEFAULT_ARGON2, opts.kdfCost);
        const real = createVaultIn(ks, await passphraseKey(ks, opts.passphrase), new Set());
        let decoy: ReturnType<typeof createVaultIn> | null = null;
        if (opts.decoyPassphrase !== undefined) {
          decoy = createVaultIn(ks, await passphraseKey(ks, opts.decoyPassphrase), slotsOf(real.meta));
          real.meta.hasCompanion = true;
          real.meta.companion = { master: decoy.master.toString('hex'), slots: ownSlots(decoy.meta) };
          real.meta.reservedSlots = ownSlots(decoy.meta).sort((a, b) => a - b);
        }
        // Records first, key slots last: until keyslots.bin exists the home counts as empty, so a
        // crash here leaves nothing that a retry of `init` trips over but some unreadable rows.
        for (const v of decoy ? [real, decoy] : [real]) {
          const opened = await open(v.master);
          opened.vault.setMeta(v.meta);
          record(opened.audit, 'setup');
        }
        await writeFileAtomic(paths.config, JSON.stringify({ version: 1 }, null, 2) + '\n');
        await writeFileAtomic(paths.throttle, JSON.stringify({ failures: 0, notBefore: 0 }));
        await writeFileAtomic(paths.keyslots, encodeKeySlots(ks));
        real.master.fill(0);
        decoy?.master.fill(0);
        return { recoveryCodes: real.codes, decoyRecoveryCodes: decoy?.codes };
      } finally {
        initializing = false;
      }
    },

    /**
     * Opens the vault whose passphrase or recovery code this is. Wrong secrets throw
     * VAULT_WRONG_SECRET and earn a growing delay before the next attempt is evaluated.
     */
    async unlock(secret: UnlockSecret, opts: UnlockOptions = {}): Promise<UnlockedVault> {
      await readSlots(); // VAULT_NOT_INITIALIZED before the lock file is written into a folder without a vault
      await acquireLock();
      await waitTurn(opts);
      // Under the key-slot lock from reading the slots to registering the open vault: a decoy
      // being removed, or a passphrase being changed, must not race an unlock that found its
      // slot in a copy read before (it would open wiped records, or write a removed slot back).
      const { shared, master, expected, failedBefore, resealedAt, handle } = await exclusive(async () => {
        const ks = await readSlots();
        const search = 'passphrase' in secret ? await findPassphraseSlot(ks, secret.passphrase) : null;
        const found = 'passphrase' in secret ? search!.found : findSlot(ks, recoveryKey(ks, secret.recoveryCode));
        const expected = 'passphrase' in secret ? 'passphrase' : 'recovery';
        if (found === null || found.content.kind !== expected) {
          const state = await throttle.fail();
          const next = Math.max(0, state.notBefore - clock());
          const what = 'passphrase' in secret ? 'wrong passphrase' : 'wrong recovery code';
          throw new ElohimError(
            'VAULT_WRONG_SECRET',
            next > 0 ? `${what} (${state.failures} failed attempts; the next attempt waits ${Math.ceil(next / 1000)} s)` : what,
          );
        }
        const failedBefore = (await throttle.read()).failures;
        await throttle.succeed();
        const master = found.content.master;
        // Opened at a cost other than the one now chosen: re-seal the slot at the chosen cost, so a
        // change of the Argon2 setting reaches each vault at its next unlock.
        let resealedAt: KdfCost | undefined;
        if (search !== null && search.cost !== ks.cost && found.content.kind === 'passphrase') {
          ks.slots[found.index] = sealSlot(search.key, found.index, { kind: 'passphrase', master });
          await writeFileAtomic(paths.keyslots, encodeKeySlots(ks));
          resealedAt = ks.cost;
        }
        const handle = openHandle(master);
        let shared = openVaults.get(handle);
        if (shared === undefined) {
          shared = { ...(await open(master)), refs: 0 };
          openVaults.set(handle, shared);
          shared.audit.applyRetention(DEFAULT_AUDIT_RETENTION_DAYS);
        }
        shared.refs++;
        return { shared, master, expected, failedBefore, resealedAt, handle };
      });
      const { vault, audit } = shared;
      const entry = shared;
      // Failed attempts cannot be tied to a vault when they happen; whichever vault opens next
      // learns how many there were (the counter is shared, so this says nothing of other vaults).
      if (failedBefore > 0) record(audit, 'unlock-failed', { count: failedBefore });
      record(audit, 'unlock', resealedAt === undefined ? { method: expected } : { method: expected, kdfCost: resealedAt });
      if (expected === 'recovery') record(audit, 'recovery-code-use');
      return {
        vault,
        audit,
        viaRecoveryCode: expected === 'recovery',
        changePassphrase(newPassphrase: string) {
          return exclusive(async () => {
            const meta = requireMeta(vault);
            const current = await readSlots();
            const newKey = await newPassphraseKey(current, newPassphrase, meta.passphraseSlot, opts);
            current.slots[meta.passphraseSlot] = sealSlot(newKey, meta.passphraseSlot, { kind: 'passphrase', master });
            await writeFileAtomic(paths.keyslots, encodeKeySlots(current));
            record(audit, 'passphrase-change');
          });
        },
        addCompanion(passphrase: string) {
          return exclusive(async () => {
            const meta = requireMeta(vault);
            // Each vault may create one companion. The newest vault is the only one that may still
            // create one, and it knows every slot in use, so no vault ever overwrites another's
            // slots. A decoy session can therefore add "a decoy" of its own, which reads exactly
            // like a real vault doing it, and leaves the real vault untouched.
            if (meta.hasCompanion) throw new ElohimError('INVALID_INPUT', 'this vault already has a decoy');
            const current = await readSlots();
            const companion = createVaultIn(current, await newPassphraseKey(current, passphrase, null, opts), slotsOf(meta));
            const opened = await open(companion.master);
            opened.vault.setMeta(companion.meta);
            record(opened.audit, 'setup');
            record(audit, 'settings-change', { setting: 'decoy' });
            vault.setMeta({
              ...meta,
              hasCompanion: true,
              companion: { master: companion.master.toString('hex'), slots: ownSlots(companion.meta) },
              reservedSlots: [...meta.reservedSlots, ...ownSlots(companion.meta)].sort((a, b) => a - b),
            });
            await writeFileAtomic(paths.keyslots, encodeKeySlots(current));
            companion.master.fill(0);
            return { recoveryCodes: companion.codes };
          });
        },
        hasCompanion() {
          return requireMeta(vault).hasCompanion;
        },
        removeCompanion() {
          return exclusive(async () => {
            const meta = requireMeta(vault);
            if (!meta.hasCompanion) throw new ElohimError('DECOY_NOT_FOUND');
            if (meta.companion === undefined) {
              throw new ElohimError('INVALID_INPUT', 'this decoy vault was made by an earlier version and cannot be removed; shredding removes every vault');
            }
            // The decoy may have made a decoy of its own, and so on: walk the chain first, since
            // a vault left behind would sit in slots that this vault no longer reserves.
            const chain: { master: Buffer; slots: number[] }[] = [];
            for (let next: MetaRecord['companion'] = meta.companion; next !== undefined; ) {
              const companionMaster: Buffer = Buffer.from(next.master, 'hex');
              if (openVaults.has(openHandle(companionMaster))) {
                throw new ElohimError('VAULT_BUSY', 'the decoy vault is unlocked in another session; lock it first');
              }
              chain.push({ master: companionMaster, slots: next.slots });
              next = metaOf(companionMaster)?.companion;
            }
            const doomed = new Set(chain.flatMap((c) => c.slots));
            // Slots first: once they are random the decoy can never be opened, whatever happens next.
            const current = await readSlots();
            for (const index of doomed) current.slots[index] = randomBytes(SLOT_SIZE);
            await writeFileAtomic(paths.keyslots, encodeKeySlots(current));
            for (const c of chain.reverse()) {
              await wipe(c.master);
              c.master.fill(0);
            }
            const { companion: _gone, ...rest } = meta;
            vault.setMeta({ ...rest, hasCompanion: false, reservedSlots: meta.reservedSlots.filter((s) => !doomed.has(s)) });
            record(audit, 'settings-change', { setting: 'decoy-removed' });
          });
        },
        lock(event) {
          if (event !== undefined) record(audit, event);
          master.fill(0);
          if (--entry.refs === 0) openVaults.delete(handle);
        },
      };
    },

    /**
     * Crypto-shred: overwrites every key slot (and the salt) with random bytes in place, then
     * fsyncs. Every vault's master key is then gone, so no passphrase or recovery code can ever
     * decrypt the data again. The file keeps its size and shape. On flash storage and
     * journaling file systems old blocks may survive an overwrite; the README says so.
     */
    async shred(): Promise<void> {
      const fh = await openFile(paths.keyslots, 'r+').catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') throw new ElohimError('VAULT_NOT_INITIALIZED', 'no vault here yet');
        throw err;
      });
      try {
        const fresh = encodeKeySlots(createKeySlots(DEFAULT_ARGON2));
        await fh.write(fresh, 0, fresh.length, 0);
        await fh.sync();
      } finally {
        await fh.close();
      }
    },

    /** The Argon2id cost level passphrase slots are sealed at. */
    async kdfCost(): Promise<KdfCost> {
      return (await readSlots()).cost;
    },

    /**
     * Chooses the Argon2id cost for passphrase slots. Each vault moves to it at its next unlock
     * with its passphrase (re-sealing needs the passphrase, which no one else holds).
     */
    setKdfCost(cost: KdfCost): Promise<void> {
      return exclusive(async () => {
        if (!KDF_COSTS.includes(cost)) throw new ElohimError('INVALID_INPUT', `the Argon2 cost is one of ${KDF_COSTS.join(', ')}`);
        await acquireLock();
        const ks = await readSlots();
        if (ks.cost === cost) return;
        ks.cost = cost;
        ks.costsUsed.add(cost);
        await writeFileAtomic(paths.keyslots, encodeKeySlots(ks));
      });
    },

    /** Milliseconds before the next unlock attempt will be evaluated (0 = now). */
    async unlockWaitMs(): Promise<number> {
      return throttle.waitMs();
    },

    close(): void {
      db?.close();
      db = null;
      if (lockHeld) rmSync(paths.lock, { force: true });
      lockHeld = false;
    },
  };
}

export type Home = ReturnType<typeof createHome>;
