import { t } from '../strings/app.ts';
import { Icon } from './Icon.tsx';

/** The banner of the unlocked app: the name, and Lock, Panic and Settings always at hand. */
export function Header({ onLock, onPanic, onSettings }: { onLock: () => void; onPanic: () => void; onSettings: () => void }) {
  return (
    <header className="app-header">
      <div className="brand">
        <Icon name="shield" className="brand-icon" />
        <span>{t('appName')}</span>
      </div>
      <div className="header-actions">
        <button type="button" className="button header-button" onClick={onLock} title={t('lock.hint')}>
          <Icon name="lock" />
          <span>{t('lock')}</span>
        </button>
        <button type="button" className="button header-button danger" onClick={onPanic} title={t('panic.hint')} aria-keyshortcuts="Control+Shift+L">
          <Icon name="alert" />
          <span>{t('panic')}</span>
        </button>
        <button type="button" className="button header-button" onClick={onSettings} aria-haspopup="dialog">
          <Icon name="settings" />
          <span>{t('settings')}</span>
        </button>
      </div>
    </header>
  );
}
