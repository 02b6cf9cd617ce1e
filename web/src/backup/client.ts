// The cloud backup's calls to the server (src/server/routes/backup.ts), for Settings → Cloud
// backup and the first-run "Restore from a backup". Requests go through the app's one API client;
// Back up now and the restores are POSTs answered as Server-Sent Events (progress, then done or
// error), read with the API client's streamEvents.

import { API, apiPath } from '../../../src/server/protocol.ts';
import { ApiError, request, streamEvents } from '../api.ts';

export interface TargetInput {
  address: string;
  endpoint?: string;
  region?: string;
  pathStyle?: boolean;
  accessKeyId?: string;
  secretAccessKey?: string;
  username?: string;
  password?: string;
  rcloneConfig?: string;
}

export interface RetentionPolicy {
  last?: number;
  daily?: number;
  weekly?: number;
  monthly?: number;
}

export interface TargetInfo {
  name: string;
  kind: 'local' | 's3' | 'webdav' | 'rclone';
  where: string;
  details: Record<string, string | boolean>;
  created: number;
  retention: RetentionPolicy | null;
  lastBackup: { time: number; snapshot: string; files: number; filesUploaded: number; bytesUploaded: number } | null;
  lastProof: { time: number; snapshot: string | null; sampled: number; bytes: number; ok: boolean; failures: number } | null;
}

export interface Progress {
  operation: 'backup' | 'proof' | 'restore';
  files: { done: number; total: number };
  bytes: { done: number; total: number };
  rate: number;
  etaSeconds: number | null;
}

export interface Snapshot {
  name: string;
  time: number;
  full: boolean;
}

/** Posts `body` and follows the event stream: `onProgress` for each progress event; resolves with done's data. */
async function stream<T>(path: string, body: unknown, onProgress: (p: Progress) => void, signal?: AbortSignal): Promise<T> {
  for await (const ev of streamEvents(path, body, signal)) {
    if (ev.event === 'progress') onProgress(ev.data as Progress);
    else if (ev.event === 'done') return ev.data as T;
  }
  throw new ApiError(0, 'NETWORK', 'the server ended the operation without an answer');
}

const target = (route: (typeof API)[keyof typeof API], name: string) => apiPath(route, name);

export const backupApi = {
  targets: () => request<{ targets: TargetInfo[] }>('GET', API.backupTargets),
  addTarget: (name: string, input: TargetInput) => request<TargetInfo>('POST', API.backupTargets, { name, target: input }),
  removeTarget: (name: string) => request<void>('DELETE', target(API.backupTarget, name)),
  testTarget: (name: string) => request<{ repository: 'none' | 'this-folder' | 'another-folder' }>('POST', target(API.backupTest, name)),
  setRetention: (name: string, policy: RetentionPolicy | null) => request<TargetInfo>('PUT', target(API.backupRetention, name), { policy }),
  snapshots: (name: string) => request<{ snapshots: Snapshot[] }>('GET', target(API.backupSnapshots, name)),
  verify: (name: string, readData: boolean) => request<{ ok: boolean; snapshots: number; packs: number; bytesRead: number; problems: string[] }>('POST', target(API.backupVerify, name), { readData }),
  prune: (name: string) => request<{ packsDeleted: number; orphansDeleted: number; bytesFreed: number }>('POST', target(API.backupPrune, name)),
  run: (name: string, onProgress: (p: Progress) => void, signal?: AbortSignal) =>
    stream<{ summary: { snapshot: string; objects: { total: number; uploaded: number }; bytesUploaded: number }; proof: { ok: boolean; sampled: number } }>(target(API.backupRun, name), {}, onProgress, signal),
  restoreBeside: (name: string, path: string, onProgress: (p: Progress) => void, signal?: AbortSignal) =>
    stream<{ snapshot: string; home: string; objects: { total: number } }>(target(API.backupRestoreBeside, name), { path }, onProgress, signal),
  /** First run: this data folder from a backup, with a passphrase or a recovery code. */
  restoreFresh: (input: TargetInput, secret: { passphrase: string } | { recoveryCode: string }, onProgress: (p: Progress) => void, signal?: AbortSignal) =>
    stream<{ snapshot: string; objects: { total: number } }>(API.backupRestoreFresh, { target: input, ...secret }, onProgress, signal),
};
