/**
 * Where a backup goes, as the user says it, and the target built from it.
 *
 * Addresses (one syntax for the CLI, the HTTP API and the UI):
 *   /media/usb/elohim              a folder (a USB drive, a mounted share); absolute path
 *   s3://bucket/optional/prefix    S3 or S3-compatible, with endpoint, region, path-style, keys
 *   webdav+https://host/dav/path   WebDAV (webdav+http:// only to this device), user and password
 *   rclone:remote:path             any rclone remote (Google Drive, Dropbox, OneDrive…), with the
 *                                  user's rclone config text
 *
 * A spec holds credentials (S3 keys, a WebDAV password, an rclone config), so it lives only in
 * the vault's sealed records (service.ts) and in memory; `describeTarget` is what may be shown
 * or logged, and it never carries a secret.
 */
import { isAbsolute, normalize } from 'node:path';
import { ElohimError } from '../errors.ts';
import type { Target } from './target.ts';
import { createLocalTarget } from './targets/local.ts';
// rclone's is needed at parse time (it checks the config names the remote); S3's and WebDAV's
// modules load when such a target is built: a backup to a folder never uses them.
import { createRcloneTarget } from './targets/rclone.ts';

export type TargetSpec =
  | { kind: 'local'; path: string }
  | { kind: 's3'; bucket: string; prefix: string; endpoint?: string; region?: string; pathStyle: boolean; accessKeyId: string; secretAccessKey: string }
  | { kind: 'webdav'; url: string; username?: string; password?: string }
  | { kind: 'rclone'; remote: string; config: string };

/** What a face sends to add a target: the address and the options its kind takes. */
export interface TargetInput {
  address: string;
  endpoint?: string;
  region?: string;
  pathStyle?: boolean;
  accessKeyId?: string;
  secretAccessKey?: string;
  username?: string;
  password?: string;
  /** the text of an rclone.conf (not a path: it is sealed, the file can then be deleted) */
  rcloneConfig?: string;
}

const bad = (message: string) => new ElohimError('INVALID_INPUT', message);

function text(value: unknown, what: string, max: number, opts: { optional: true }): string | undefined;
function text(value: unknown, what: string, max: number): string;
function text(value: unknown, what: string, max: number, opts: { optional?: boolean } = {}): string | undefined {
  if (value === undefined || value === '') {
    if (opts.optional) return undefined;
    throw bad(`${what} is needed for this kind of target`);
  }
  if (typeof value !== 'string' || value.length > max || /[\0-\x1f\x7f]/.test(value)) throw bad(`${what} is not valid`);
  return value;
}

function httpUrl(value: string, what: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw bad(`${what} is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw bad(`${what} must be http:// or https://`);
  if (url.username || url.password) throw bad(`${what} must not carry credentials: give them as their own options`);
  return url;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** Turns what a face sent into a spec. Throws INVALID_INPUT with a message saying what to fix. */
export function parseTarget(input: TargetInput): TargetSpec {
  if (typeof input !== 'object' || input === null) throw bad('a target is an address and its options');
  const address = text(input.address, 'the address', 4096);
  if (address.startsWith('s3://')) {
    const rest = address.slice(5);
    const slash = rest.indexOf('/');
    const bucket = slash < 0 ? rest : rest.slice(0, slash);
    let prefix = slash < 0 ? '' : rest.slice(slash + 1);
    if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) throw bad('the S3 bucket name is not valid (3–63 lower-case letters, digits, dots and dashes)');
    if (prefix !== '' && !prefix.endsWith('/')) prefix += '/';
    if (prefix.split('/').slice(0, -1).some((s) => s === '' || s === '.' || s === '..')) throw bad('the S3 prefix is not valid');
    const endpoint = text(input.endpoint, 'the S3 endpoint', 2048, { optional: true });
    if (endpoint !== undefined) httpUrl(endpoint, 'the S3 endpoint');
    const region = text(input.region, 'the S3 region', 64, { optional: true });
    if (region !== undefined && !/^[a-z0-9-]+$/.test(region)) throw bad('the S3 region is not valid');
    if (input.pathStyle !== undefined && typeof input.pathStyle !== 'boolean') throw bad('path-style is yes or no');
    return {
      kind: 's3',
      bucket,
      prefix,
      endpoint,
      region,
      pathStyle: input.pathStyle ?? false,
      accessKeyId: text(input.accessKeyId, 'the S3 access key id', 256),
      secretAccessKey: text(input.secretAccessKey, 'the S3 secret access key', 1024),
    };
  }
  if (address.startsWith('webdav+')) {
    const url = httpUrl(address.slice(7), 'the WebDAV address');
    if (url.protocol === 'http:' && !LOOPBACK.has(url.hostname)) throw bad('WebDAV over plain http is only for this device: use webdav+https://');
    const username = text(input.username, 'the WebDAV user', 256, { optional: true });
    const password = text(input.password, 'the WebDAV password', 1024, { optional: true });
    if (password !== undefined && username === undefined) throw bad('a WebDAV password needs its user');
    return { kind: 'webdav', url: url.href.endsWith('/') ? url.href : `${url.href}/`, username, password };
  }
  if (address.startsWith('rclone:')) {
    const remote = address.slice(7);
    if (!/^[A-Za-z0-9_-]+:[^\0\r\n]*$/.test(remote) || remote.startsWith('-')) throw bad('an rclone address is rclone:REMOTE:path (a remote from your rclone config)');
    // The target never reads rclone's default config (targets/rclone.ts): the user's goes in, sealed.
    const config = input.rcloneConfig;
    if (config === undefined || config === '') throw bad('an rclone target needs your rclone config (the text of rclone.conf: --rclone-config FILE)');
    if (typeof config !== 'string' || config.length > 64 * 1024 || config.includes('\0')) throw bad('the rclone config is not valid');
    createRcloneTarget({ remote, config }); // checks the config names the remote; contacts nothing
    return { kind: 'rclone', remote, config };
  }
  let path = address;
  if (address.startsWith('file://')) {
    try {
      path = decodeURIComponent(new URL(address).pathname);
    } catch {
      throw bad('the file:// address is not valid');
    }
  }
  if (path.includes('\0')) throw bad('a folder path has no NUL character');
  if (!isAbsolute(path)) throw bad('a folder target is an absolute path (or s3://, webdav+https://, rclone:)');
  return { kind: 'local', path: normalize(path) };
}

/** A spec as it may be shown or logged: where, never a secret. */
export function describeTarget(spec: TargetSpec): { kind: TargetSpec['kind']; where: string; details: Record<string, string | boolean> } {
  switch (spec.kind) {
    case 'local':
      return { kind: 'local', where: spec.path, details: {} };
    case 's3':
      return {
        kind: 's3',
        where: `s3://${spec.bucket}/${spec.prefix}`,
        details: { endpoint: spec.endpoint ?? 'AWS', region: spec.region ?? 'us-east-1', pathStyle: spec.pathStyle, accessKeyId: `…${spec.accessKeyId.slice(-4)}` },
      };
    case 'webdav':
      return { kind: 'webdav', where: spec.url, details: spec.username ? { user: spec.username, password: spec.password ? 'sealed' : 'none' } : {} };
    case 'rclone':
      return { kind: 'rclone', where: `rclone:${spec.remote}`, details: { config: 'sealed' } };
  }
}

/** The target a spec names (nothing is contacted until a call). */
export async function buildTarget(spec: TargetSpec): Promise<Target> {
  switch (spec.kind) {
    case 'local':
      return createLocalTarget({ root: spec.path });
    case 's3':
      return (await import('./targets/s3.ts')).createS3Target({
        bucket: spec.bucket,
        prefix: spec.prefix,
        endpoint: spec.endpoint,
        region: spec.region,
        forcePathStyle: spec.pathStyle,
        credentials: { accessKeyId: spec.accessKeyId, secretAccessKey: spec.secretAccessKey },
      });
    case 'webdav':
      return (await import('./targets/webdav.ts')).createWebDavTarget({ url: spec.url, username: spec.username, password: spec.password });
    case 'rclone':
      // Throws INVALID_INPUT for a config it cannot use (encrypted, no such remote).
      return createRcloneTarget({ remote: spec.remote, config: spec.config });
  }
}
