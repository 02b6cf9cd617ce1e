import { mkdir } from 'node:fs/promises';
import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { ASSISTANT_RECORD_KINDS, assistantKeysOf, createAssistantService } from './ai/index.ts';
import type { AssistantRecord } from './ai/index.ts';
import { AUDIT_RECORD_KINDS, auditKeysOf, createAuditLog } from './audit/index.ts';
import type { AuditLog, AuditRecord } from './audit/index.ts';
import { x25519IdentityFromSecret } from './crypto/age/index.ts';
import { createHasherPool } from './crypto/index.ts';
import { createRecordStore, openDatabase } from './db/index.ts';
import type { Database } from './db/index.ts';
import { ElohimError } from './errors.ts';
import { createProcessLock } from './fs/index.ts';
import { createKeyring, vaultRecordKeys } from './keyring/index.ts';
import type { Keyring, OnCreated, VaultKey } from './keyring/index.ts';
import type { Argon2Params } from './crypto/index.ts';
import type { KdfCost } from './keyring/index.ts';
import { createSettings } from './settings/index.ts';
import type { SettingsStore } from './settings/index.ts';
import { createObjectStore, destroyVaultData, openVault } from './vault/index.ts';
import type { VaultRecord } from './vault/index.ts';
import { createWorkspaces, recordEvent } from './workspace/index.ts';
import { createMaintenance } from './cover/index.ts';
import { asRepositoryKey, BACKUP_RECORD_KINDS, backupRecordKeys, createBackupService, createFolderRestore } from './backup/index.ts';
import type { BackupRecord, FolderRestore } from './backup/index.ts';
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
  };
}

export type DataPaths = ReturnType<typeof dataPaths>;

export interface InitOptions {
  passphrase: string;
  decoyPassphrase?: string;
  /** for tests: a cheaper Argon2id than the default */
  argon2?: Argon2Params;
  kdfCost?: KdfCost;
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
}

/**
 * The composition root: builds every service once and wires them together. Nothing else
 * constructs a service; a workspace (a vault, its audit log, and the services that run while it
 * is open) is built here from the key the keyring hands out.
 */
export function createApp(config: AppConfig, opts: { clock?: () => number } = {}): App {
  const clock = opts.clock ?? Date.now;
  const paths = dataPaths(config.home);
  let db: Database | null = null;
  // Opened on first use: `elohim status` or a server with no vault yet never creates db.sqlite.
  const database = (): Database => (db ??= openDatabase(paths.db));
  const lock = createProcessLock({ path: paths.lock });
  const hashers = createHasherPool({ maxWorkers: 2 });
  const objects = createObjectStore({ root: paths.objects, hashers });
  const settings = createSettings({ path: paths.config });
  const keyring = createKeyring({ paths, db: database, lock, clock });

  const derivation = (key: VaultKey) => (label: string) => key.derive(label);
  const auditRecords = (key: VaultKey) => createRecordStore<AuditRecord>({ db: database(), keys: auditKeysOf(derivation(key)), kinds: AUDIT_RECORD_KINDS });
  const vaultRecords = (key: VaultKey) => createRecordStore<VaultRecord>({ db: database(), keys: vaultRecordKeys(derivation(key)) });
  const auditOf = (key: VaultKey): AuditLog => createAuditLog({ records: auditRecords(key), clock });
  const assistantRecords = (key: VaultKey) => createRecordStore<AssistantRecord>({ db: database(), keys: assistantKeysOf(derivation(key)), kinds: ASSISTANT_RECORD_KINDS });

  /**
   * A new vault's first audit entry, written before its key slots make it reachable, dated when
   * the vault says it was made (a decoy added later says the folder's set-up: ARCHITECTURE.md).
   */
  const setUp: OnCreated = (key, createdAt) =>
    recordEvent(createAuditLog({ records: auditRecords(key), clock: () => createdAt }), 'setup');

  /** Removes a decoy's records, objects and audit log. */
  async function wipe(key: VaultKey): Promise<void> {
    await destroyVaultData({ records: vaultRecords(key), objects });
    auditRecords(key).clear();
    assistantRecords(key).clear();
  }

  async function buildWorkspace(key: VaultKey, signal: AbortSignal): Promise<BuiltWorkspace> {
    const audit = auditOf(key);
    // the assistant's index follows the vault's changes; it is built once the vault is open
    let followVault: ((items: readonly string[]) => void) | undefined;
    const vault = await openVault({
      records: vaultRecords(key),
      objects,
      clock,
      identity: x25519IdentityFromSecret(key.derive('elohim/v1 age identity')),
      hashers,
      onEvent: (event, details) => recordEvent(audit, event, details),
      onChange: (items) => followVault?.(items),
    });
    // The assistant: conversations, memories, settings and the index sealed under its own keys.
    const assistant = createAssistantService({
      records: assistantRecords(key),
      clock,
      vault,
      signal,
      // a failure nobody waits for (a provider down while embedding): its code only, never its text
      onError: (err) => process.stderr.write(`elohim: assistant: ${(err as { code?: string }).code ?? (err as Error).name}\n`),
    });
    followVault = (items) => assistant.vaultChanged(items);
    // The cloud backup: targets sealed under its own keys; the repository key from the keyring.
    const backup = createBackupService({
      records: createRecordStore<BackupRecord>({ db: database(), keys: backupRecordKeys(derivation(key)), kinds: BACKUP_RECORD_KINDS }),
      folder: { paths, db: database, objects: objects.ciphertext },
      key: asRepositoryKey(keyring.backupKey(key)),
      clock,
      signal,
      audit: (event, details) => {
        if (!signal.aborted) recordEvent(audit, event, details); // a locked vault's log takes nothing more
      },
    });
    const workspace: Workspace = {
      id: key.id,
      vault,
      audit,
      signal,
      backup,
      assistant,
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
      repairRecords() {
        const own = vaultRecords(key).repair();
        const log = auditRecords(key).repair();
        const ai = assistantRecords(key).repair();
        const result = { quarantined: own.quarantined.length + log.quarantined.length + ai.quarantined.length, resealed: own.resealed || log.resealed || ai.resealed };
        recordEvent(audit, 'repair', { vaultRecords: own.quarantined.length, auditRecords: log.quarantined.length, resealed: result.resealed });
        return result;
      },
      async removeDecoy() {
        await keyring.removeDecoy(key, wipe);
        recordEvent(audit, 'settings-change', { setting: 'decoy-removed' });
      },
    };
    return { workspace, services: [{ stop: () => backup.stop() }, assistant] };
  }

  const workspaces = createWorkspaces({ keyring, build: buildWorkspace });
  const maintenance = createMaintenance({
    db: database,
    objects,
    paths,
    lock,
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
      await mkdir(paths.objects, { recursive: true, mode: 0o700 });
      const result = await keyring.init(initOpts, setUp);
      await settings.create();
      await maintenance.seed();
      return result;
    },
    maintain: (opts) => maintenance.run(opts),
    restoreFromBackup: createFolderRestore({ paths, db: database, objects, objectsDir: paths.objects, lock }),
    close() {
      workspaces.lockAll(undefined);
      db?.close();
      db = null;
      lock.release();
    },
  };
}
