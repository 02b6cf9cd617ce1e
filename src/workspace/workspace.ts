import type { AuditDetails, AuditEvent, AuditLog } from '../audit/index.ts';
import { isElohimError } from '../errors.ts';
import type { UnlockOptions } from '../keyring/index.ts';
import type { Vault } from '../vault/index.ts';
import type { AssistantService } from '../ai/index.ts';
import type { BackupService } from '../backup/index.ts';
import type { Mesh } from '../mesh/index.ts';
import type { ShareService } from '../mesh/shares/index.ts';

/** Why a workspace stops; the audit log records it (a plain `undefined` stop records nothing). */
export type StopReason = 'lock' | 'auto-lock' | 'panic';

/** A service that lives as long as its workspace (the vault today; the assistant, mesh node and backup engine next). */
export interface WorkspaceService {
  /** Stops every timer, socket and stream it owns; must finish promptly (panic waits for it). */
  stop(): Promise<void> | void;
}

/**
 * Everything one unlocked vault holds, built by app.ts from the vault's key: its files, its audit
 * log, the key operations that need its key, and the services that run while it is open. Faces
 * reach `workspace.vault` and `workspace.audit`, never the files behind them.
 */
export interface Workspace {
  /** A stable, non-secret name for this vault while it is open. */
  readonly id: string;
  readonly vault: Vault;
  readonly audit: AuditLog;
  /**
   * Aborted when the workspace stops (lock, auto-lock, panic): every stream and long operation
   * of this vault takes it (combined with its caller's own), so nothing reads or commits after.
   */
  readonly signal: AbortSignal;
  /** The cloud backup of this vault: its sealed targets and every backup operation (src/backup). */
  readonly backup: BackupService;
  /** The AI assistant of this vault: its sealed conversations, memories, settings and index (src/ai). */
  readonly assistant: AssistantService;
  /** MagnetarMesh for this vault: its node, pairings and stream pool (src/mesh); off until turned on. */
  readonly mesh: Mesh;
  /** Shared folders of this vault synced with paired devices, bundles and audit witnesses (src/mesh/shares). */
  readonly shares: ShareService;
  /** Re-seals this vault's passphrase slot under a new passphrase (audited); files are not touched. */
  changePassphrase(newPassphrase: string, opts?: UnlockOptions): Promise<void>;
  /**
   * Creates a decoy vault opened by `passphrase` (audited); returns its recovery codes, and this
   * vault's new ones when it moved behind the decoy (see keyring.addDecoy, which also says what
   * `currentPassphrase` is for and what the move destroys).
   */
  addDecoy(passphrase: string, opts?: UnlockOptions & { currentPassphrase?: string }): Promise<{ recoveryCodes: string[]; ownRecoveryCodes?: string[] }>;
  /** Whether this vault has created a decoy vault. */
  hasDecoy(): boolean;
  /** Destroys this vault's decoy (and any decoy it made in turn). Throws DECOY_NOT_FOUND, VAULT_BUSY. */
  removeDecoy(): Promise<void>;
  /**
   * Moves this vault's records that no longer open (its own and its audit log's) into the
   * quarantine table and re-seals both record sets as they now are, accepting any loss the seals
   * reported; audited as 'repair'. Returns how many rows were moved and whether a seal changed.
   */
  repairRecords(): Promise<{ quarantined: number; resealed: boolean }>;
}

/**
 * Appends to an audit log without ever blocking the user's work on it: a log that fails to
 * verify refuses appends (so damage is never papered over), and `audit verify` reports it.
 */
export function recordEvent(audit: AuditLog, event: AuditEvent, details?: AuditDetails): void {
  try {
    audit.append(event, details);
  } catch (err) {
    if (!isElohimError(err, 'AUDIT_CHAIN_BROKEN')) throw err;
  }
}
