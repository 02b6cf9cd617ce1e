import { Component, startTransition, Suspense, useEffect, useId, useRef, useState } from 'react';
import type { KeyboardEvent, ReactNode } from 'react';
import { Dialog } from '../components/Dialog.tsx';
import { t } from './strings.ts';
import { SETTINGS_TABS } from './tabs.ts';
import './settings.css';

// The app shell imports this file statically, so it holds only the frame: the dialog, the
// tablist and a slot per panel. Each panel's code is its own chunk (see tabs.ts).

/** `tab`: the id of the tab to open first (SETTINGS_TABS), e.g. 'models' from Chat; default the first. */
export function SettingsModal(props: { open: boolean; onClose: () => void; tab?: string }) {
  return (
    <Dialog title={t('title')} open={props.open} onClose={props.onClose} className="settings-dialog">
      {/* Dialog renders its children only while open: every opening starts on the first tab
          with fresh data. */}
      <SettingsBody onClose={props.onClose} tab={props.tab} />
    </Dialog>
  );
}

function SettingsBody({ onClose, tab }: { onClose: () => void; tab?: string }) {
  const id = useId();
  const first = Math.max(0, SETTINGS_TABS.findIndex((x) => x.id === tab));
  const [active, setActive] = useState(first);
  // Tabs whose panel has been rendered; they stay mounted, so switching back keeps what was
  // typed there.
  const [opened, setOpened] = useState<ReadonlySet<number>>(() => new Set());
  const tabRefs = useRef<(HTMLButtonElement | null)[]>([]);

  // A panel's chunk is awaited inside a transition, behind a Suspense boundary that is already
  // showing: React then keeps the panel's "Loading…" text up and shows the panel the moment its
  // chunk arrives. Were it to show a Suspense fallback instead, React 19 would hold the content
  // back until 300 ms after the fallback appeared (its FALLBACK_THROTTLE_MS), three times the
  // 100 ms a tab may take.
  function open(index: number): void {
    // Asked for now, the chunk arrives a frame sooner than when the transition's render asks
    // (for the same module: the browser fetches it once). A failure shows through the panel.
    SETTINGS_TABS[index]!.load().catch(() => {});
    startTransition(() => setOpened((before) => (before.has(index) ? before : new Set(before).add(index))));
  }

  useEffect(() => open(first), []);

  function select(index: number): void {
    setActive(index);
    open(index);
  }

  // Roving tabindex (WAI-ARIA tabs pattern, automatic activation): Tab enters the tablist at
  // the selected tab; arrows, Home and End move between tabs and open them.
  function onKeyDown(event: KeyboardEvent): void {
    const last = SETTINGS_TABS.length - 1;
    const next = { ArrowRight: active === last ? 0 : active + 1, ArrowLeft: active === 0 ? last : active - 1, Home: 0, End: last }[event.key];
    if (next === undefined) return;
    event.preventDefault();
    select(next);
    tabRefs.current[next]?.focus();
  }

  return (
    <div className="settings-body">
      <div role="tablist" aria-label={t('tabs')} className="settings-tablist" onKeyDown={onKeyDown}>
        {SETTINGS_TABS.map((tab, index) => (
          <button
            key={tab.id}
            ref={(element) => {
              tabRefs.current[index] = element;
            }}
            type="button"
            role="tab"
            id={id + 'tab-' + tab.id}
            aria-selected={index === active}
            aria-controls={id + 'panel-' + tab.id}
            tabIndex={index === active ? 0 : -1}
            className="settings-tab"
            onClick={() => select(index)}
            // A pointer on its way to a tab: fetch the chunk while the click is still coming.
            onPointerEnter={() => void tab.load().catch(() => {})}
          >
            {t(tab.label)}
          </button>
        ))}
      </div>
      <button type="button" className="settings-close" aria-label={t('close')} onClick={onClose}>
        ×
      </button>
      <Suspense fallback={<p className="settings-loading">{t('loading')}</p>}>
        {SETTINGS_TABS.map((tab, index) => (
          <div
            key={tab.id}
            role="tabpanel"
            id={id + 'panel-' + tab.id}
            aria-labelledby={id + 'tab-' + tab.id}
            tabIndex={0}
            hidden={index !== active}
            className="settings-panel"
          >
            {opened.has(index) ? (
              <PanelBoundary>
                <tab.Panel onClose={onClose} />
              </PanelBoundary>
            ) : (
              <p className="settings-loading">{t('loading')}</p>
            )}
          </div>
        ))}
      </Suspense>
    </div>
  );
}

/**
 * A tab whose chunk failed to load (the server was restarted with a new build, a dropped
 * connection) or whose code threw shows why, instead of taking the whole app down.
 */
class PanelBoundary extends Component<{ children: ReactNode }, { error: string | null }> {
  override state: { error: string | null } = { error: null };

  static getDerivedStateFromError(error: unknown): { error: string } {
    return { error: error instanceof Error ? error.message : String(error) };
  }

  override render(): ReactNode {
    if (this.state.error === null) return this.props.children;
    return (
      <p role="alert" className="settings-error">
        {t('loadFailed', { message: this.state.error })}
      </p>
    );
  }
}
