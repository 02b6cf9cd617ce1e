import { existsSync, statSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
// The device's models and the embedded provider are built with the app (cheap, loading nothing
// until used): their own faces, not the assistant's, which app.ts imports only when a workspace
// runs the assistant (see SERVICE_MODULES).
import { createModels } from './ai/models/index.ts';
import type { Models } from './ai/models/index.ts';
import { createEmbeddedProvider } from './ai/providers/embedded.ts';
import type { EmbeddedProvider } from './ai/providers/embedded.ts';
import type { AssistantRecord, AssistantService } from './ai/index.ts';
import { AUDIT_RECORD_KINDS, auditHeadIdOf, auditKeysOf, createAuditLog } from './audit/index.ts';
import type { AuditLog, AuditRecord } from './audit/index.ts';
import { x25519IdentityFromSecret } from './crypto/age/index.ts';
import { createHasherPool } from './crypto/index.ts';
import { createRecordStore, openDatabase } from './db/index.ts';
import type { Database, RecordKeys, RecordStore } from './db/index.ts';
import { ElohimError } from './errors.ts';
import { createProcessLock, createSpaceReserve } from './fs/index.ts';
import { createKeyring, vaultRecordKeys } from './keyring/index.ts';
import type { Keyring, OnCreated, VaultKey } from './keyring/index.ts';
import type { Argon2Params } from './crypto/index.ts';
import type { KdfCost } from './keyring/index.ts';
import { createSettings } from './settings/index.ts';
import type { SettingsStore } from './settings/index.ts';
import { createObjectStore, destroyVaultData, openVault, SHARES_HOLDER } from './vault/index.ts';
import type { Vault, VaultRecord } from './vault/index.ts';
import { createWorkspaces, recordEvent } from './workspace/index.ts';
import { createMaintenance } from './cover/index.ts';
import { createStoreFile, openStore } from './store/index.ts';
import type { DeniableStore } from './store/index.ts';
import type { Mesh } from './mesh/index.ts';
import type { ShareService } from './mesh/shares/index.ts';
import type { BackupRecord, BackupService, FolderRestore } from './backup/index.ts';
import type { BuiltWorkspace, Workspace, Workspaces } from './workspace/index.ts';

/** Start-up configuration, read and checked once. */
export interface AppConfig {
  /** $ELOHIM_HOME, default ~/.elohim */
  home: string;
}

/** Reads the configuration from the environment (the only place that does). */
export function configFromEnv(env: NodeJS.ProcessEnv = process.env): AppConfig {
  const raw = env.ELOHIM_HOME;
  if (raw !== undefined && raw !== '' && (raw.includes('\0') || !isAbsolute(resolve(raw)))) {
    throw new ElohimError('INVALID_INPUT', 'ELOHIM_HOME must be a folder path');
  }
  return { home: raw ? resolve(raw) : join(homedir(), '.elohim') };
}

/**
 * Space kept for a full device (fs/reserve.ts): room for the lock, a session's audit entries and
 * the database pages that moving a few files to the trash and emptying it write.
 */
const RESERVE_BYTES = 2 * 1024 * 1024;

/** The services a workspace runs besides its vault and audit log. */
export type ServiceName = 'assistant' | 'backup' | 'mesh' | 'shares';

/**
 * Their domains, imported when a workspace first runs one: each is tens of modules, and a
 * one-shot command such as `elohim ls` uses none of them (start-up time, bench/startup.ts).
 */
const SERVICE_MODULES = {
  assistant: () => import('./ai/index.ts'),
  backup: () => import('./backup/workspace.ts'),
  mesh: () => import('./mesh/index.ts'),
  shares: () => import('./mesh/shares/index.ts'),
};

/**
 * Stands for a service this process did not build (createApp's `services` leaves it out): using
 * it is a bug in the command that left it out, which it reports by name instead of failing later.
 */
function notBuilt<T extends object>(name: ServiceName | 'vault'): T {
  return new Proxy({} as T, {
    get(_target, prop) {
      // what `await`, util.inspect and the like probe for: not a use of the service
      if (prop === 'then' || typeof prop === 'symbol') return undefined;
      throw new Error(`the ${name} service is not built in this command (${prop})`);
    },
  });
}

/** The files of a data folder. */
export function dataPaths(dir: string) {
  return {
    dir,
    keyslots: join(dir, 'keyslots.bin'),
    db: join(dir, 'db.sqlite'),
    objects: join(dir, 'objects'),
    config: join(dir, 'config.json'),
    throttle: join(dir, 'unlock-throttle.json'),
    lock: join(dir, 'lock'),
    store: join(dir, 'store.bin'),
    reserve: join(dir, 'reserve'),
    /** GGUF models, device-wide: every vault sees the same ones (src/ai/models) */
    models: join(dir, 'models'),
  };
}

export type DataPaths = ReturnType<typeof dataPaths>;

export interface InitOptions {
  passphrase: string;
  decoyPassphrase?: string;
  /** for tests: a cheaper Argon2id than the default */
  argon2?: Argon2Params;
  kdfCost?: KdfCost;
  /** bytes of a deniable store (src/store) to set up, in which every vault's rows and objects live */
  reserve?: number;
}

export interface App {
  config: AppConfig;
  paths: DataPaths;
  keyring: Keyring;
  settings: SettingsStore;
  /** the open workspaces (one per unlocked vault), shared by every face in this process */
  workspaces: Workspaces;
  /** Creates the vault (and a decoy); returns the recovery codes, shown once. */
  init(opts: InitOptions): Promise<{ recoveryCodes: string[]; decoyRecoveryCodes?: string[] }>;
  /**
   * One maintenance pass (cover/): every face runs it when it starts and stops; the server also
   * every few minutes, with `chaff`.
   */
  maintain(opts?: { chaff?: boolean }): Promise<void>;
  /** Locks every workspace (recording nothing) and releases the data folder. */
  close(): void;
  /** Restores this (fresh) data folder from a backup with one secret of any vault in it (backup/fresh.ts). */
  restoreFromBackup: FolderRestore;
  /** the device's GGUF models, the same for every vault (no unlock needed to manage them) */
  models: Models;
  /** llama.cpp in this process, running those models; loads nothing until first used */
  embedded: EmbeddedProvider;
}

/**
 * The composition root: builds every service once and wires them together. Nothing else
 * constructs a service; a workspace (a vault, its audit log, and the services that run while it
 * is open) is built here from the key the keyring hands out.
 */
export function createApp(
  config: AppConfig,
  opts: {
    clock?: () => number;
    meshAutoStart?: boolean;
    indexInBackground?: boolean;
    /** the services each workspace runs (default all; shares bring the mesh): a one-shot CLI command names those it uses */
    services?: readonly ServiceName[];
    /**
     * Whether each workspace opens its vault (default true). A one-shot command that reads no file
     * of the vault (backup run, ls, verify…) says false: opening decrypts every record of the vault
     * (~0.3 s of an unchanged `backup run` at 10,000 files, bench:backup). The assistant and the
     * shares read the vault, so naming either opens it anyway.
     */
    vault?: boolean;
  } = {},
): App {
  const clock = opts.clock ?? Date.now;
  const paths = dataPaths(config.home);
  let db: Database | null = null;
  // Opened on first use: `elohim status` or a server with no vault yet never creates db.sqlite.
  const database = (): Database => (db ??= openDatabase(paths.db));
  const lock = createProcessLock({ path: paths.lock });
  const hashers = createHasherPool({ maxWorkers: 2 });
  const objects = createObjectStore({ root: paths.objects, hashers });
  const settings = createSettings({ path: paths.config });
  // The deniable store, when the folder was set up with one (`init --reserve`): every vault's
  // rows and objects live in its region of store.bin, and db.sqlite and objects/ are never made.
  let deniable: DeniableStore | null = null;
  const store = (): DeniableStore | null =>
    (deniable ??= existsSync(paths.store) ? openStore({ path: paths.store, size: statSync(paths.store).size, hashers, clock }) : null);
  const databaseOf = (keys: RecordKeys): Database => store()?.databaseFor(keys) ?? database();
  const keyring = createKeyring({ paths, db: databaseOf, lock, clock });
  const models = createModels({ dir: paths.models });
  const embedded = createEmbeddedProvider({ models });

  const derivation = (key: VaultKey) => (label: string) => key.derive(label);
  /** The database and object store of one vault: its region of the deniable store, or the shared ones. */
  const ownKeys = (key: VaultKey) => vaultRecordKeys(derivation(key));
  const dbOf = (key: VaultKey): Database => databaseOf(ownKeys(key));
  const objectsOf = (key: VaultKey) => store()?.objectsFor(ownKeys(key)) ?? objects;
  const auditRecords = (key: VaultKey) => createRecordStore<AuditRecord>({ db: dbOf(key), keys: auditKeysOf(derivation(key)), kinds: AUDIT_RECORD_KINDS });
  const vaultRecords = (key: VaultKey) => createRecordStore<VaultRecord>({ db: dbOf(key), keys: vaultRecordKeys(derivation(key)) });
  const auditOf = (key: VaultKey): AuditLog => createAuditLog({ records: auditRecords(key), clock, headId: auditHeadIdOf(derivation(key)) });

  /**
   * A new vault's first audit entry, written before its key slots make it reachable, dated when
   * the vault says it was made (a decoy added later says the folder's set-up: ARCHITECTURE.md).
   */
  const setUp: OnCreated = async (key, createdAt, position) => {
    // With a deniable store, the vault's region at its key-slot position is made first.
    const s = store();
    if (s !== null) {
      if (position === null) throw new ElohimError('VAULT_FORMAT_UNKNOWN', 'a version-1 vault cannot live in a deniable store');
      await s.format(ownKeys(key), position);
    }
    recordEvent(createAuditLog({ records: auditRecords(key), clock: () => createdAt, headId: auditHeadIdOf(derivation(key)) }), 'setup');
  };

  /**
   * The record stores of a vault's services (each under keys of its own), besides its files' and
   * its audit log's: what removing a decoy clears and what repair repairs. A new service that
   * keeps records adds its stores here, or a removed decoy would leave them behind.
   */
  const serviceRecordStores = async (key: VaultKey): Promise<RecordStore<unknown>[]> => {
    const deps = { db: dbOf(key), derive: derivation(key) };
    const [ai, backup, mesh, shares] = await Promise.all([SERVICE_MODULES.assistant(), SERVICE_MODULES.backup(), SERVICE_MODULES.mesh(), SERVICE_MODULES.shares()]);
    return [...ai.assistantRecordStores(deps), ...backup.backupRecordStores(deps), ...mesh.meshRecordStores(deps), ...shares.sharesRecordStores(deps)];
  };

  /** Removes a decoy's records, objects and audit log, and every record its services kept. */
  async function wipe(key: VaultKey): Promise<void> {
    // In a deniable store the region's superblocks become random bytes: nothing of it opens again.
    const s = store();
    if (s !== null) return s.destroy(ownKeys(key));
    await destroyVaultData({ records: vaultRecords(key), objects });
    auditRecords(key).clear();
    for (const records of await serviceRecordStores(key)) records.clear();
  }

  async function buildWorkspace(key: VaultKey, signal: AbortSignal): Promise<BuiltWorkspace> {
    // Derived now: services stop after the key is destroyed, and the region must still be released.
    const regionKeys = ownKeys(key);
    const audit = auditOf(key);
    // The services this process runs (opts.services), their domains imported before the vault
    // opens: from there to the return nothing waits, as before.
    const wanted = new Set<ServiceName>(opts.services ?? ['assistant', 'backup', 'mesh', 'shares']);
    if (wanted.has('shares')) wanted.add('mesh'); // shared folders travel over the mesh
    const load = <N extends ServiceName>(name: N) => (wanted.has(name) ? (SERVICE_MODULES[name]() as ReturnType<(typeof SERVICE_MODULES)[N]>) : null);
    const [ai, backups, meshes, sharing] = await Promise.all([load('assistant'), load('backup'), load('mesh'), load('shares')]);
    // the assistant's index follows the vault's changes; it is built once the vault is open
    let followVault: ((items: readonly string[]) => void) | undefined;
    const openIt = opts.vault !== false || wanted.has('assistant') || wanted.has('shares');
    const vault = !openIt ? notBuilt<Vault>('vault') : await openVault({
      records: vaultRecords(key),
      objects: objectsOf(key),
      clock,
      identity: x25519IdentityFromSecret(key.derive('elohim/v1 age identity')),
      hashers,
      onEvent: (event, details) => recordEvent(audit, event, details),
      onChange: (items) => followVault?.(items),
    });
    // Without the shares service (a one-shot command), emptying the trash still asks what the
    // shares name before an object goes, from their records, read only when a pass needs it.
    if (openIt && !wanted.has('shares')) vault.retain(SHARES_HOLDER, { load: async () => (await import('./mesh/shares/holder.ts')).loadSharesHolder({ db: dbOf(key), derive: derivation(key) }) });
    // The assistant: conversations, memories, settings and the index sealed under its own keys.
    const assistant = ai === null ? notBuilt<AssistantService>('assistant') : ai.createAssistantService({
      records: createRecordStore<AssistantRecord>({ db: dbOf(key), keys: ai.assistantKeysOf(derivation(key)), kinds: ai.ASSISTANT_RECORD_KINDS }),
      clock,
      vault,
      signal,
      embedded: () => embedded,
      indexInBackground: opts.indexInBackground !== false,
      // a failure nobody waits for (a provider down while embedding): its code only, never its text
      onError: (err) => process.stderr.write(`elohim: assistant: ${(err as { code?: string }).code ?? (err as Error).name}\n`),
    });
    if (ai !== null) followVault = (items) => assistant.vaultChanged(items);
    // The cloud backup: targets sealed under its own keys; the repository key from the keyring.
    const repositoryKey = backups?.asRepositoryKey(keyring.backupKey(key));
    const backup = backups === null || repositoryKey === undefined ? notBuilt<BackupService>('backup') : backups.createBackupService({
      records: createRecordStore<BackupRecord>({ db: dbOf(key), keys: backups.backupRecordKeys(derivation(key)), kinds: backups.BACKUP_RECORD_KINDS }),
      // A folder with a deniable store is backed up as store.bin in blocks (backup/store-source.ts).
      folder: store() === null ? { paths, db: database, objects: objects.ciphertext } : backups.storeBackupSource({ paths, store: () => store()!, key: repositoryKey }),
      key: repositoryKey,
      clock,
      signal,
      audit: (event, details) => {
        if (!signal.aborted) recordEvent(audit, event, details); // a locked vault's log takes nothing more
      },
    });
    // MagnetarMesh: this vault's node, off until the user turns it on; the server (meshAutoStart)
    // starts it at unlock when it is on, a CLI mesh command starts it itself.
    const mesh = meshes === null ? notBuilt<Mesh>('mesh') : meshes.createMeshService({ db: dbOf(key), derive: derivation(key), clock, signal, autoStart: opts.meshAutoStart === true, audit: (event, details) => {
      if (!signal.aborted) recordEvent(audit, event, details);
    } });
    // Shared folders over the mesh (src/mesh/shares): their own record keys; objects in transit
    // are staged as ciphertext under objects/tmp/mesh so a cut transfer resumes. A folder with a
    // deniable store has no objects/ (the examiner would see one appear), so it takes no shares yet.
    const shares = sharing === null ? notBuilt<ShareService>('shares') : sharing.createSharesService({ db: dbOf(key), derive: derivation(key), mesh, vault, objects: objectsOf(key), audit, staging: store() === null ? join(paths.objects, 'tmp', 'mesh') : null, clock, signal });
    const workspace: Workspace = {
      id: key.id,
      vault,
      audit,
      signal,
      backup,
      assistant,
      mesh,
      shares,
      async changePassphrase(passphrase, waitOpts) {
        await keyring.changePassphrase(key, passphrase, waitOpts);
        recordEvent(audit, 'passphrase-change');
      },
      async addDecoy(passphrase, waitOpts) {
        const result = await keyring.addDecoy(key, passphrase, setUp, waitOpts);
        recordEvent(audit, 'settings-change', { setting: 'decoy' });
        return result;
      },
      hasDecoy: () => keyring.hasDecoy(key),
      async repairRecords() {
        const services = await serviceRecordStores(key);
        const own = vaultRecords(key).repair();
        const log = auditRecords(key).repair();
        const others = services.map((records) => records.repair());
        const serviceRecords = others.reduce((n, r) => n + r.quarantined.length, 0);
        const result = {
          quarantined: own.quarantined.length + log.quarantined.length + serviceRecords,
          resealed: own.resealed || log.resealed || others.some((r) => r.resealed),
        };
        recordEvent(audit, 'repair', { vaultRecords: own.quarantined.length, auditRecords: log.quarantined.length, serviceRecords, resealed: result.resealed });
        return result;
      },
      async removeDecoy() {
        await keyring.removeDecoy(key, wipe);
        recordEvent(audit, 'settings-change', { setting: 'decoy-removed' });
      },
    };
    const built = [backups && { stop: () => backup.stop() }, ai && assistant, sharing && shares, meshes && mesh].filter((s) => s !== null);
    return { workspace, services: [...built, { stop: () => store()?.release(regionKeys) }] };
  }

  const workspaces = createWorkspaces({ keyring, build: buildWorkspace });
  const maintenance = createMaintenance({
    db: database,
    store: () => store(),
    objects,
    paths,
    lock,
    reserve: createSpaceReserve({ path: paths.reserve, bytes: RESERVE_BYTES }),
    initialized: () => keyring.isInitialized(),
    refreshKeys: () => keyring.refresh(),
    refreshSettings: () => settings.refresh(),
  });

  return {
    config,
    paths,
    keyring,
    settings,
    workspaces,
    async init(initOpts) {
      const startedAt = clock();
      if (initOpts.reserve !== undefined) {
        if (keyring.isInitialized()) throw new ElohimError('VAULT_ALREADY_INITIALIZED', 'a vault already exists here');
        await mkdir(paths.dir, { recursive: true, mode: 0o700 });
        await createStoreFile(paths.store, initOpts.reserve);
      } else if (existsSync(paths.store)) {
        // left by a set-up with a store that did not finish; a set-up without one must not use it
        throw new ElohimError('INVALID_INPUT', 'this folder holds a deniable store from an unfinished set-up: set up with --reserve again, or delete store.bin');
      }
      if (store() === null) await mkdir(paths.objects, { recursive: true, mode: 0o700 });
      const result = await keyring.init({ ...initOpts, startedAt }, setUp);
      await settings.create();
      await maintenance.seed();
      return result;
    },
    maintain: (opts) => maintenance.run(opts),
    restoreFromBackup: async (restoreOpts) => (await SERVICE_MODULES.backup()).createFolderRestore({ paths, db: database, objects, objectsDir: paths.objects, throttlePath: paths.throttle, lock, storePath: paths.store })(restoreOpts),
    models,
    embedded,
    close() {
      // llama.cpp's models and threads (nothing to free if it was never used)
      void embedded.dispose();
      workspaces.lockAll(undefined);
      db?.close();
      db = null;
      deniable?.close();
      deniable = null;
      lock.release();
    },
  };
}
