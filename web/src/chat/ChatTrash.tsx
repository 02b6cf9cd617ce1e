import { useEffect, useState } from 'react';
import { Dialog } from '../components/Dialog.tsx';
import { Icon } from '../components/Icon.tsx';
import { chatApi } from './client.ts';
import type { Conversation } from './client.ts';
import { chatErrorText, isSessionEnd } from './errors.ts';
import { t } from './strings.ts';

/** Deleted conversations: restore one, or delete it for good (asked first). */
export function ChatTrash({ onBack, onRestored }: { onBack: () => void; onRestored: (c: Conversation) => void }) {
  const [list, setList] = useState<Conversation[] | null>(null);
  const [reload, setReload] = useState(0);
  const [forever, setForever] = useState<Conversation | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    let live = true;
    chatApi.trashedConversations().then(
      ({ conversations }) => live && setList(conversations),
      (err: unknown) => live && !isSessionEnd(err) && setError(chatErrorText(err)),
    );
    return () => {
      live = false;
    };
  }, [reload]);

  async function act(action: () => Promise<unknown>, then?: () => void) {
    setBusy(true);
    setError(null);
    try {
      await action();
      then?.();
      setReload((n) => n + 1);
    } catch (err) {
      if (!isSessionEnd(err)) setError(chatErrorText(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <div className="chat-trash">
      <button type="button" className="button subtle small" onClick={onBack}>
        <Icon name="back" />
        <span>{t('trash.back')}</span>
      </button>
      <h2 className="chat-trash-title">{t('trash')}</h2>
      <p className="hint">{t('trash.hint')}</p>
      {error !== null && (
        <p role="alert" className="alert">
          {error}
        </p>
      )}
      {list === null && error === null && <p className="muted">{t('loading')}</p>}
      {list !== null && list.length === 0 && <p className="muted">{t('trash.none')}</p>}
      {list !== null && list.length > 0 && (
        <ul className="chat-list" aria-label={t('trash')}>
          {list.map((c) => (
            <li key={c.id} className="chat-item chat-trashed">
              <span className="chat-open">{c.title}</span>
              <span className="chat-item-actions">
                <button type="button" className="button subtle small icon-button" disabled={busy} aria-label={t('trash.restore', { title: c.title })} title={t('trash.restore', { title: c.title })} onClick={() => void act(() => chatApi.restoreConversation(c.id), () => onRestored(c))}>
                  <Icon name="restore" />
                </button>
                <button type="button" className="button subtle small icon-button" disabled={busy} aria-label={t('trash.forever', { title: c.title })} title={t('trash.forever', { title: c.title })} onClick={() => setForever(c)}>
                  <Icon name="trash" />
                </button>
              </span>
            </li>
          ))}
        </ul>
      )}
      <Dialog title={t('forever.dialog')} open={forever !== null} onClose={() => setForever(null)}>
        {forever !== null && <p>{t('forever.text', { title: forever.title })}</p>}
        <div className="actions">
          <button type="button" className="button" onClick={() => setForever(null)}>
            {t('cancel')}
          </button>
          <button
            type="button"
            className="button danger"
            disabled={busy}
            onClick={() => {
              const target = forever;
              if (target !== null) void act(() => chatApi.deleteForever(target.id), () => setForever(null));
            }}
          >
            {t('forever.confirm')}
          </button>
        </div>
      </Dialog>
    </div>
  );
}
