import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { ElohimError } from '../errors.ts';
import { rewriteFileAtomic, writeFileAtomic } from '../fs/index.ts';

/** Non-secret settings, kept in config.json. The same for every vault (they are not sealed). */
export interface Settings {
  /** minutes of inactivity after which an unlocked vault locks itself */
  autoLockMinutes: number;
  /** server log level */
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug';
  /** server port when none is given on the command line or in ELOHIM_PORT */
  port: number;
}

export const DEFAULT_SETTINGS: Settings = { autoLockMinutes: 15, logLevel: 'info', port: 7788 };
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug'] as const;

/** JSON schema of a settings change; the server validates requests with it. */
export const SETTINGS_PATCH_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  minProperties: 1,
  properties: {
    autoLockMinutes: { type: 'integer', minimum: 1, maximum: 1440 },
    logLevel: { type: 'string', enum: [...LOG_LEVELS] },
    port: { type: 'integer', minimum: 1024, maximum: 65535 },
  },
} as const;

/** Checks a settings object read from disk or sent by a client; throws INVALID_INPUT. */
export function checkSettings(value: Partial<Settings>): Settings {
  const merged = { ...DEFAULT_SETTINGS, ...value };
  const { autoLockMinutes, logLevel, port } = merged;
  if (!Number.isInteger(autoLockMinutes) || autoLockMinutes < 1 || autoLockMinutes > 1440) {
    throw new ElohimError('INVALID_INPUT', 'autoLockMinutes must be a whole number from 1 to 1440');
  }
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) throw new ElohimError('INVALID_INPUT', `logLevel must be one of ${LOG_LEVELS.join(', ')}`);
  if (!Number.isInteger(port) || port < 1024 || port > 65535) throw new ElohimError('INVALID_INPUT', 'port must be from 1024 to 65535');
  return { autoLockMinutes, logLevel, port };
}

/** Settings backed by config.json (`{ version: 1, settings: {...} }`), written atomically. */
export function createSettings(deps: { path: string }) {
  let cached: Settings | null = null;
  return {
    /** Current settings; defaults when the file is absent. Throws VAULT_CORRUPT if it is unreadable. */
    async read(): Promise<Settings> {
      if (cached) return cached;
      let raw: string;
      try {
        raw = await readFile(deps.path, 'utf8');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return (cached = { ...DEFAULT_SETTINGS });
        throw err;
      }
      let parsed: { version?: number; settings?: Partial<Settings> };
      try {
        parsed = JSON.parse(raw) as typeof parsed;
      } catch {
        throw new ElohimError('VAULT_CORRUPT', 'config.json is not valid JSON');
      }
      if (parsed.version !== 1) throw new ElohimError('VAULT_FORMAT_UNKNOWN', `config.json version ${parsed.version} is unknown`);
      return (cached = checkSettings(parsed.settings ?? {}));
    },
    /**
     * Rewrites config.json exactly as it is, if it exists (maintenance, see cover/), and reads it
     * again next time: a first-run restore brings back a config.json this process had read as
     * absent (its defaults cached) before.
     */
    refresh(): Promise<void> {
      cached = null;
      return rewriteFileAtomic(deps.path);
    },
    /** Writes config.json with the current settings when it does not exist yet (at set-up). */
    async create(): Promise<void> {
      if (existsSync(deps.path)) return;
      await writeFileAtomic(deps.path, JSON.stringify({ version: 1, settings: await this.read() }, null, 2) + '\n');
    },
    /** Applies a change, persists it, and returns the new settings and what changed. */
    async update(patch: Partial<Settings>): Promise<{ settings: Settings; changed: (keyof Settings)[] }> {
      const before = await this.read();
      const after = checkSettings({ ...before, ...patch });
      const changed = (Object.keys(after) as (keyof Settings)[]).filter((k) => after[k] !== before[k]);
      await writeFileAtomic(deps.path, JSON.stringify({ version: 1, settings: after }, null, 2) + '\n');
      cached = after;
      return { settings: after, changed };
    },
  };
}

export type SettingsStore = ReturnType<typeof createSettings>;
