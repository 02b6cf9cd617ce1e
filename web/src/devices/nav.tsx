import { Component, lazy, Suspense, useState } from 'react';
import type { ReactNode } from 'react';
import { makeT } from '../i18n.ts';

// What the app shell imports statically for Devices: the nav button and the lazy screen. The
// screen (DevicesScreen.tsx and everything under it, the QR encoder included) is its own chunk,
// fetched the first time Devices opens.

const t = makeT({
  devices: 'Devices',
  loading: 'Loading…',
  loadFailed: 'Devices could not be loaded ({message}). Reload the page to try again.',
});

const loadDevices = () => import('./DevicesScreen.tsx');
const LazyDevicesScreen = lazy(loadDevices);
const prefetch = () => void loadDevices().catch(() => {});

/** The "Devices" entry of the section switch (SectionNav takes it as a child). */
export function DevicesNavButton({ current, onOpen }: { current: boolean; onOpen: () => void }) {
  return (
    <button type="button" className="section-link" aria-current={current ? 'page' : undefined} onClick={onOpen} onPointerEnter={prefetch} onFocus={prefetch}>
      {t('devices')}
    </button>
  );
}

/** The Devices screen once opened; it stays mounted (hidden) so a code shown survives a look elsewhere. */
export function DevicesSection({ active }: { active: boolean }) {
  const [opened, setOpened] = useState(active);
  if (active && !opened) setOpened(true);
  if (!opened) return null;
  return (
    <div hidden={!active}>
      <Boundary>
        <Suspense fallback={<p className="muted loading-text">{t('loading')}</p>}>
          <LazyDevicesScreen active={active} />
        </Suspense>
      </Boundary>
    </div>
  );
}

class Boundary extends Component<{ children: ReactNode }, { error: string | null }> {
  override state: { error: string | null } = { error: null };

  static getDerivedStateFromError(error: unknown): { error: string } {
    return { error: error instanceof Error ? error.message : String(error) };
  }

  override render(): ReactNode {
    if (this.state.error === null) return this.props.children;
    return (
      <p role="alert" className="alert">
        {t('loadFailed', { message: this.state.error })}
      </p>
    );
  }
}
