import { lazy, Suspense, useCallback, useEffect, useRef, useState } from 'react';
import type { MouseEvent } from 'react';
import { api, onSessionEnded } from './api.ts';
import { Browser } from './browser/Browser.tsx';
import type { Reveal } from './browser/Browser.tsx';
import { ChatSection, SectionNav } from './chat/nav.tsx';
import type { Section } from './chat/nav.tsx';
import { DevicesNavButton, DevicesSection } from './devices/nav.tsx';
import { Header } from './components/Header.tsx';
import { Icon } from './components/Icon.tsx';
import { focusMainHeading, ScreenHeading } from './components/ScreenHeading.tsx';
import { RecoveryCodes } from './screens/RecoveryCodes.tsx';
import { Setup } from './screens/Setup.tsx';
import type { SetupResult } from './screens/Setup.tsx';
import { Unlock } from './screens/Unlock.tsx';
import { SettingsModal } from './settings/SettingsModal.tsx';
import { t } from './strings/app.ts';

type Screen =
  | { kind: 'loading' }
  | { kind: 'unreachable' }
  | { kind: 'setup' }
  | { kind: 'unlock' }
  | { kind: 'unlocked'; viaRecoveryCode: boolean };

/**
 * How often an unlocked page asks whether its vault is still open. Health is public and does
 * not count as activity, so polling never keeps the vault from locking itself; when it locks
 * (auto-lock, panic from another tab or the CLI) the file names leave the screen within this.
 */
const LOCK_POLL_MS = 5000;

/** Ctrl+Shift+L: the same on every layout that has an L key, and read before any other handler. */
function isPanicKey(event: KeyboardEvent): boolean {
  return event.ctrlKey && event.shiftKey && !event.altKey && !event.metaKey && (event.code === 'KeyL' || event.key.toLowerCase() === 'l');
}

// The first-run "Restore from a backup" (src/backup), its own chunk: most first runs never open it.
const RestoreBackup = lazy(() => import('./screens/RestoreBackup.tsx'));

/** First run: choose passphrases, see the recovery codes once, then open the new vault; or restore a backup. */
function FirstRun({ onUnlocked, onRestored }: { onUnlocked: () => void; onRestored: () => void }) {
  const [result, setResult] = useState<SetupResult | null>(null);
  const [restoring, setRestoring] = useState(false);
  // Held only between setup and Continue (which unlocks with it), never rendered or stored.
  const passphrase = useRef<string | null>(null);

  if (restoring) {
    return (
      <Suspense fallback={<p className="loading" aria-busy="true" />}>
        <RestoreBackup onRestored={onRestored} onBack={() => setRestoring(false)} />
      </Suspense>
    );
  }
  if (result === null) {
    return (
      <>
        <Setup
          onCreated={(created, chosen) => {
            passphrase.current = chosen;
            setResult(created);
          }}
        />
        <div className="card">
          <p className="lead">{t('restoreHint')}</p>
          <div className="actions">
            <button type="button" className="button" onClick={() => setRestoring(true)}>
              {t('restoreOffer')}
            </button>
          </div>
        </div>
      </>
    );
  }
  return (
    <RecoveryCodes
      result={result}
      onContinue={async () => {
        await api.unlock({ passphrase: passphrase.current ?? '' });
        passphrase.current = null;
        onUnlocked();
      }}
    />
  );
}

export function App() {
  const [screen, setScreen] = useState<Screen>({ kind: 'loading' });
  const [settingsOpen, setSettingsOpen] = useState(false);
  /** the Settings tab to open first (Chat's "no model yet" opens Models) */
  const [settingsTab, setSettingsTab] = useState<string | undefined>(undefined);
  const [section, setSection] = useState<Section | 'devices'>('files');
  const [reveal, setReveal] = useState<Reveal | undefined>(undefined);
  const [panicError, setPanicError] = useState<string | null>(null);

  /** Decides the screen from the server's state: first run, unlock, or the open vault. */
  const route = useCallback(async (tryResume: boolean) => {
    try {
      const health = await api.health();
      if (health.initialized === false) setScreen({ kind: 'setup' });
      // With no session open anywhere there is none to resume (and no 401 to log for it).
      else if (tryResume && !health.locked && (await api.resume())) setScreen({ kind: 'unlocked', viaRecoveryCode: false });
      else setScreen({ kind: 'unlock' });
    } catch {
      setScreen({ kind: 'unreachable' });
    }
  }, []);

  useEffect(() => {
    void route(true);
  }, [route]);

  // Whatever ended the session (Lock, Panic, auto-lock, another tab), the vault's contents
  // leave the screen at once, the settings with them.
  useEffect(() => {
    const off = onSessionEnded(() => {
      setSettingsOpen(false);
      setScreen({ kind: 'loading' });
      void route(false);
    });
    return () => {
      off();
    };
  }, [route]);

  const panic = useCallback(() => {
    setSettingsOpen(false);
    setScreen({ kind: 'loading' });
    setPanicError(null);
    api.panic().catch((err: unknown) => setPanicError(t('panic.failed', { message: err instanceof Error ? err.message : String(err) })));
  }, []);

  const lock = useCallback(() => {
    setSettingsOpen(false);
    setScreen({ kind: 'loading' });
    // lock() ends the session here even when the server cannot be told; route() follows.
    api.lock().catch(() => undefined);
  }, []);

  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      if (!isPanicKey(event)) return;
      event.preventDefault();
      event.stopPropagation();
      panic();
    };
    window.addEventListener('keydown', onKey, true);
    return () => window.removeEventListener('keydown', onKey, true);
  }, [panic]);

  const unlocked = screen.kind === 'unlocked';
  useEffect(() => {
    if (!unlocked) return;
    setPanicError(null);
    let stopped = false;
    const check = async () => {
      try {
        const health = await api.health();
        // Asking for the session then ends it here the usual way (onSessionEnded).
        if (!stopped && (health.locked || health.initialized === false)) await api.resume();
      } catch {
        // The server is gone for a moment; the next request will say so.
      }
    };
    const timer = setInterval(check, LOCK_POLL_MS);
    const onVisible = () => {
      if (document.visibilityState === 'visible') void check();
    };
    document.addEventListener('visibilitychange', onVisible);
    return () => {
      stopped = true;
      clearInterval(timer);
      document.removeEventListener('visibilitychange', onVisible);
    };
  }, [unlocked]);

  const alert =
    panicError === null ? null : (
      <p role="alert" className="alert app-alert">
        {panicError}
      </p>
    );

  if (screen.kind === 'unlocked') {
    const skip = (event: MouseEvent) => {
      event.preventDefault();
      focusMainHeading();
    };
    return (
      <>
        <a className="skip-link" href="#main" onClick={skip}>
          {t('skipToContent')}
        </a>
        <Header
          onLock={lock}
          onPanic={panic}
          onSettings={() => {
            setSettingsTab(undefined);
            setSettingsOpen(true);
          }}
        />
        {/* With Devices open, neither Files nor Chat is current. */}
        <SectionNav section={section as Section} onSection={setSection}>
          <DevicesNavButton current={section === 'devices'} onOpen={() => setSection('devices')} />
        </SectionNav>
        <main id="main" className="app-main">
          {alert}
          {/* Chat first: while it shows, its heading is the one the skip link finds. */}
          <ChatSection
            active={section === 'chat'}
            settingsOpen={settingsOpen}
            onOpenFile={(file) => {
              setReveal({ ...file });
              setSection('files');
            }}
            onOpenSettings={() => {
              setSettingsTab('models');
              setSettingsOpen(true);
            }}
          />
          <div hidden={section !== 'files'}>
            <Browser viaRecoveryCode={screen.viaRecoveryCode} reveal={reveal} />
          </div>
          <DevicesSection active={section === 'devices'} />
        </main>
        <SettingsModal open={settingsOpen} tab={settingsTab} onClose={() => setSettingsOpen(false)} />
      </>
    );
  }

  return (
    <main id="main" className="locked">
      <div className="locked-brand">
        <Icon name="shield" className="brand-icon" />
        <span>{t('appName')}</span>
      </div>
      {alert}
      {screen.kind === 'loading' && (
        <p className="loading" aria-busy="true">
          {t('loading')}
        </p>
      )}
      {screen.kind === 'unreachable' && (
        <div className="card">
          <ScreenHeading>{t('unreachableTitle')}</ScreenHeading>
          <p className="lead">{t('unreachableText')}</p>
          <div className="actions">
            <button type="button" className="button primary" onClick={() => void route(true)}>
              {t('retry')}
            </button>
          </div>
        </div>
      )}
      {screen.kind === 'setup' && <FirstRun onUnlocked={() => setScreen({ kind: 'unlocked', viaRecoveryCode: false })} onRestored={() => void route(false)} />}
      {screen.kind === 'unlock' && (
        <Unlock onUnlocked={(viaRecoveryCode) => setScreen({ kind: 'unlocked', viaRecoveryCode })} onNotInitialized={() => void route(false)} />
      )}
    </main>
  );
}
