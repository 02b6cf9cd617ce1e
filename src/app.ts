import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { createSettings } from './settings/index.ts';
import type { SettingsStore } from './settings/index.ts';
import { createHome } from './vault/index.ts';
import type { Home } from './vault/index.ts';
import { ElohimError } from './errors.ts';

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

export interface App {
  config: AppConfig;
  home: Home;
  settings: SettingsStore;
  close(): void;
}

/** The composition root: builds every service once and wires them together. */
export function createApp(config: AppConfig, opts: { clock?: () => number } = {}): App {
  const home = createHome({ dir: config.home, clock: opts.clock });
  return {
    config,
    home,
    settings: createSettings({ path: home.paths.config }),
    close() {
      home.close();
    },
  };
}
