export { checkSettings, createSettings, DEFAULT_SETTINGS, LOG_LEVELS, SETTINGS_PATCH_SCHEMA } from './settings.ts';
export type { Settings, SettingsStore } from './settings.ts';
