// The names alone, with no imports, so the web UI can take this very list for its audit filter
// (web/src/settings/tabs/AuditLogsTab.tsx) instead of restating it.

/**
 * What the audit log records. Adding a name is a format change for older builds, which refuse
 * entries they cannot name (see `log.ts`), so only ever append to this list.
 */
export const AUDIT_EVENTS = [
  'setup',
  'unlock',
  'unlock-failed',
  'lock',
  'auto-lock',
  'panic',
  'passphrase-change',
  'recovery-code-use',
  'download',
  'delete',
  'empty-trash',
  'settings-change',
  'share',
  'backup',
  'restore',
  'pairing',
  // the log found its own damage (a missing head record) and went on after saying so
  'audit-damage',
  // damaged records were moved aside and the record set re-sealed (`elohim verify --repair`)
  'repair',
  // MagnetarMesh (src/mesh): a paired device removed here, or one that revoked this device
  'unpairing',
  // a paired device refused from now on (revoked here, or by the other side)
  'revocation',
  // the mesh turned on or off for this vault
  'mesh-on',
  'mesh-off',
  // the cloud backup (src/backup): a restore of a random sample proven after a backup, a verify,
  // snapshots forgotten by a retention policy, unneeded packs pruned, a target added or removed
  'backup-proof',
  'backup-verify',
  'backup-forget',
  'backup-prune',
  'backup-target',
] as const;
