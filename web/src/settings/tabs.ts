import { lazy } from 'react';
import type { ComponentType, LazyExoticComponent } from 'react';
import type { StringKey } from './strings.ts';

/** What every tab's panel receives. */
export interface TabProps {
  /** closes the settings modal (after panic or shred the session is gone) */
  onClose: () => void;
}

type TabModule = { default: ComponentType<TabProps> };

export interface SettingsTab {
  /** stable id, used in element ids */
  id: string;
  /** key of its name in strings.ts */
  label: StringKey;
  /** imports the tab's chunk; calling it early (hover, click) only starts the fetch sooner */
  load: () => Promise<TabModule>;
  Panel: LazyExoticComponent<ComponentType<TabProps>>;
}

function tab(id: string, label: StringKey, load: () => Promise<TabModule>): SettingsTab {
  return { id, label, load, Panel: lazy(load) };
}

/**
 * The tabs, in order. Each panel is its own chunk (assets/<File>-<hash>.js), fetched the first
 * time its tab opens, so the modal itself costs the first visit almost nothing. A new tab is
 * one line here, a module under ./tabs/ with a default export taking TabProps, and its name in
 * strings.ts. The import() must stay a literal path: that is how Vite finds the chunk.
 */
export const SETTINGS_TABS: readonly SettingsTab[] = [
  tab('general', 'tab.general', () => import('./tabs/GeneralTab.tsx')),
  tab('power', 'tab.power', () => import('./tabs/PowerUserTab.tsx')),
  tab('danger', 'tab.danger', () => import('./tabs/DangerZoneTab.tsx')),
  tab('audit', 'tab.audit', () => import('./tabs/AuditLogsTab.tsx')),
  tab('models', 'tab.models', () => import('./tabs/ModelsTab.tsx')),
  tab('backup', 'tab.backup', () => import('./tabs/BackupTab.tsx')),
];
