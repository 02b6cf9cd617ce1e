import { useCallback, useEffect, useState } from 'react';
import { Icon } from '../components/Icon.tsx';
import { chatApi } from './client.ts';
import type { AssistantStatus, IndexStatus, Preferences } from './client.ts';
import { chatErrorText, isSessionEnd } from './errors.ts';
import { t } from './strings.ts';

/**
 * The assistant's state as Chat shows it: the provider and model (no model yet, remote, local),
 * the index, and the preferences. The provider and model can change in Settings, another tab or
 * the CLI, so this is asked again when Chat is shown, when Settings closes, after every answer
 * (`reloadStatus`) and when the page comes back into view. Not on a timer: an authenticated
 * request counts as activity and would keep the vault from locking itself.
 */
export function useAssistantStatus(active: boolean, settingsOpen: boolean) {
  const [status, setStatus] = useState<AssistantStatus | null>(null);
  const [statusError, setStatusError] = useState<string | null>(null);
  const [prefs, setPrefs] = useState<Preferences | null>(null);
  const [reload, setReload] = useState(0);
  const reloadStatus = useCallback(() => setReload((n) => n + 1), []);

  useEffect(() => {
    if (active && !settingsOpen) reloadStatus();
  }, [active, settingsOpen, reloadStatus]);
  useEffect(() => {
    let live = true;
    Promise.all([chatApi.status(), chatApi.preferences()]).then(
      ([s, p]) => {
        if (!live) return;
        setStatus(s);
        setPrefs(p);
        setStatusError(null);
      },
      (err: unknown) => live && !isSessionEnd(err) && setStatusError(chatErrorText(err)),
    );
    return () => {
      live = false;
    };
  }, [reload]);
  useEffect(() => {
    const again = () => document.visibilityState === 'visible' && reloadStatus();
    document.addEventListener('visibilitychange', again);
    window.addEventListener('focus', again);
    return () => {
      document.removeEventListener('visibilitychange', again);
      window.removeEventListener('focus', again);
    };
  }, [reloadStatus]);

  return { status, statusError, prefs, setPrefs, reloadStatus };
}

/** Above the conversation: no model yet, or where the model runs, and what answers can cite. */
export function StatusBanner({ status, error, onOpenSettings }: { status: AssistantStatus | null; error: string | null; onOpenSettings: () => void }) {
  if (error !== null) {
    return (
      <p role="alert" className="alert">
        {error}
      </p>
    );
  }
  if (status === null) return null;
  if (!status.ready) {
    return (
      <div className="chat-state" role="status">
        <p className="empty-title">{t('noModel')}</p>
        {status.reason !== undefined && status.reason !== '' && !/no model yet/i.test(status.reason) && <p>{status.reason}</p>}
        <p className="hint">{t('noModel.hint')}</p>
        <button type="button" className="button primary" onClick={onOpenSettings}>
          <Icon name="settings" />
          <span>{t('openModels')}</span>
        </button>
      </div>
    );
  }
  const provider = status.provider;
  return (
    <>
      {provider !== null && !provider.local && (
        <div className="chat-remote" role="note">
          <Icon name="alert" />
          <div>
            <p className="chat-remote-title">{t('remote', { url: provider.baseUrl ?? '' })}</p>
            <p className="hint">{t('remote.hint')}</p>
          </div>
        </div>
      )}
      {provider !== null && provider.local && status.chatModel !== null && <p className="hint chat-model">{t('local', { model: status.chatModel })}</p>}
      {status.index !== undefined && <IndexLine index={status.index} />}
    </>
  );
}

const names = (list: { name: string }[]) => list.map((f) => f.name).join(', ');

/** What the answers can draw on: how many files are indexed, or how far a first index is. */
function IndexLine({ index }: { index: IndexStatus }) {
  const n = (x: number) => x.toLocaleString('en-US');
  let text: string;
  if (index.state === 'indexing') text = t('index.busy', { done: n(index.done), total: n(index.total) });
  else if (index.documents === 0) text = t('index.none');
  else {
    const passages = index.chunks === 1 ? t('passage') : t('passages', { n: n(index.chunks) });
    text = index.documents === 1 ? t('index.idle1', { passages }) : t('index.idle', { n: n(index.documents), passages });
  }
  return (
    <div className="hint chat-index">
      <p>{text}</p>
      {index.failed.length > 0 && <p>{t('index.failed', { names: names(index.failed) })}</p>}
      {index.truncated.length > 0 && <p>{t('index.truncated', { names: names(index.truncated) })}</p>}
    </div>
  );
}
