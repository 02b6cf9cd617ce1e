/**
 * The names the server and its clients share: the web UI (web/src/api.ts), the CLI's `panic`,
 * tests. It has no imports that survive compilation (the one below is a type), so the UI's
 * bundle takes this file alone, and scripts/web-build.ts hashes it with the UI's sources.
 *
 * The server registers its routes under these paths and a test checks each one exists, so a
 * path renamed on one side fails there rather than in a browser.
 */
export type { ErrorCode } from '../errors.ts';
export { AUDIT_EVENTS } from '../audit/event-names.ts';

/** The cookie that carries the session token (HttpOnly, SameSite=Strict). */
export const SESSION_COOKIE = 'elohim_session';
/** The header every state-changing request sends: the session's token, or any value before a session exists. */
export const CSRF_HEADER = 'x-elohim-csrf';
/** Header of the last tus PATCH (and of an empty upload's creation): the id of the finished file. */
export const ITEM_ID_HEADER = 'x-elohim-item-id';
/** The phrase a person must type to crypto-shred; long enough that no stray click sends it. */
export const SHRED_PHRASE = 'DESTROY ALL DATA';
export const TUS_VERSION = '1.0.0';

/** Every API route a client calls, as the server registers it (`:id` is an item or upload id). */
export const API = {
  health: '/api/v1/health',
  setup: '/api/v1/setup',
  session: '/api/v1/session',
  panic: '/api/v1/panic',
  items: '/api/v1/items',
  item: '/api/v1/items/:id',
  content: '/api/v1/items/:id/content',
  search: '/api/v1/search',
  folders: '/api/v1/folders',
  files: '/api/v1/files',
  trash: '/api/v1/trash',
  restore: '/api/v1/trash/:id/restore',
  uploads: '/api/v1/uploads',
  upload: '/api/v1/uploads/:id',
  settings: '/api/v1/settings',
  decoy: '/api/v1/decoy',
  audit: '/api/v1/audit',
  auditVerify: '/api/v1/audit/verify',
  auditExport: '/api/v1/audit/export',
  verify: '/api/v1/verify',
  // the assistant (routes/assistant.ts); `:id` is a conversation or memory id
  assistantStatus: '/api/v1/assistant/status',
  assistantProvider: '/api/v1/assistant/provider',
  conversations: '/api/v1/assistant/conversations',
  conversation: '/api/v1/assistant/conversations/:id',
  conversationMessages: '/api/v1/assistant/conversations/:id/messages',
  conversationRegenerate: '/api/v1/assistant/conversations/:id/regenerate',
  conversationStop: '/api/v1/assistant/conversations/:id/stop',
  conversationExport: '/api/v1/assistant/conversations/:id/export',
  memories: '/api/v1/assistant/memories',
  memory: '/api/v1/assistant/memories/:id',
  memoryApprove: '/api/v1/assistant/memories/:id/approve',
  preferences: '/api/v1/assistant/preferences',
  assistantIndex: '/api/v1/assistant/index',
  assistantIndexRebuild: '/api/v1/assistant/index/rebuild',
  // model management (routes/models.ts); `:id` is `<provider>/<name>` (one segment) or a pull's id
  models: '/api/v1/models',
  model: '/api/v1/models/:id',
  modelImport: '/api/v1/models/import',
  modelPull: '/api/v1/models/pull',
  modelPulls: '/api/v1/models/pulls',
  modelPullCancel: '/api/v1/models/pulls/:id',
  modelDefaults: '/api/v1/models/defaults',
  // the cloud backup (routes/backup.ts); `:id` is a target's name
  backupTargets: '/api/v1/backup/targets',
  backupTarget: '/api/v1/backup/targets/:id',
  backupTest: '/api/v1/backup/targets/:id/test',
  backupRetention: '/api/v1/backup/targets/:id/retention',
  backupRun: '/api/v1/backup/targets/:id/run',
  backupSnapshots: '/api/v1/backup/targets/:id/snapshots',
  backupVerify: '/api/v1/backup/targets/:id/verify',
  backupProve: '/api/v1/backup/targets/:id/prove',
  backupForget: '/api/v1/backup/targets/:id/forget',
  backupPrune: '/api/v1/backup/targets/:id/prune',
  backupRestoreBeside: '/api/v1/backup/targets/:id/restore',
  backupRestoreFresh: '/api/v1/backup/restore',
  // MagnetarMesh (routes/mesh.ts); `:id` is a paired device's id
  mesh: '/api/v1/mesh',
  meshOn: '/api/v1/mesh/on',
  meshOff: '/api/v1/mesh/off',
  meshSettings: '/api/v1/mesh/settings',
  meshCode: '/api/v1/mesh/code',
  meshPair: '/api/v1/mesh/pair',
  meshPeers: '/api/v1/mesh/peers',
  meshNearby: '/api/v1/mesh/nearby',
  meshPeerVerify: '/api/v1/mesh/peers/:id/verify',
  meshPeerAddress: '/api/v1/mesh/peers/:id/addresses',
  meshPeerUnpair: '/api/v1/mesh/peers/:id/unpair',
  // Shared folders, sync, bundles and the audit witness (routes/mesh-sync.ts); `:id` is a share's id
  meshShares: '/api/v1/mesh/shares',
  meshShare: '/api/v1/mesh/shares/:id',
  meshShareRemove: '/api/v1/mesh/shares/:id/remove',
  meshShareRename: '/api/v1/mesh/shares/:id/rename',
  meshShareLeave: '/api/v1/mesh/shares/:id/leave',
  meshShareConflicts: '/api/v1/mesh/shares/:id/conflicts',
  meshShareResolve: '/api/v1/mesh/shares/:id/resolve',
  meshSync: '/api/v1/mesh/sync',
  meshBundleExport: '/api/v1/mesh/bundles/export',
  meshBundleImport: '/api/v1/mesh/bundles/import',
  meshWitness: '/api/v1/mesh/witness',
} as const;

export type ApiRoute = (typeof API)[keyof typeof API];

/** `route` with its `:id` filled in ("/api/v1/items/:id" → "/api/v1/items/3f…"); the id is URL-encoded. */
export function apiPath(route: ApiRoute, id?: string): string {
  if (!route.includes(':id')) return route;
  if (id === undefined) throw new TypeError(`${route} needs an id`);
  return route.replace(':id', encodeURIComponent(id));
}
