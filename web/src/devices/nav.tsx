import { lazy } from 'react';
import { LazySection } from '../components/LazySection.tsx';
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
  return (
    <LazySection active={active} loading={t('loading')} failed={(message) => t('loadFailed', { message })}>
      <LazyDevicesScreen active={active} />
    </LazySection>
  );
}
