import { useEffect, useState } from 'react';
import { api } from '../api.ts';
import type { Item } from '../api.ts';
import { Dialog } from '../components/Dialog.tsx';
import { Icon } from '../components/Icon.tsx';
import { ScreenHeading } from '../components/ScreenHeading.tsx';
import { formatDate } from '../i18n.ts';
import { t } from '../strings/browser.ts';
import { errorText, isSessionEnd, parentPath } from './messages.ts';

/** The trash: what was deleted, newest first; restore one item, or empty it all after a confirmation. */
export function TrashView({ onBack, notice, announce }: { onBack: () => void; notice: string; announce: (text: string) => void }) {
  const [items, setItems] = useState<Item[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [reload, setReload] = useState(0);
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    let live = true;
    api.trashList().then(
      ({ items: trashed }) => {
        if (!live) return;
        setItems([...trashed].sort((a, b) => (b.trashedAt ?? 0) - (a.trashedAt ?? 0)));
        setError(null);
      },
      (err: unknown) => {
        if (live && !isSessionEnd(err)) setError(errorText(err, ''));
      },
    );
    return () => {
      live = false;
    };
  }, [reload]);

  async function restore(item: Item) {
    setError(null);
    try {
      const { item: restored } = await api.restore(item.id);
      announce(t('restore.done', { name: restored.name, path: parentPath(restored.path) }));
    } catch (err) {
      if (!isSessionEnd(err)) setError(errorText(err, item.name));
    }
    setReload((n) => n + 1);
  }

  async function emptyTrash() {
    if (busy) return;
    setBusy(true);
    try {
      await api.emptyTrash();
      announce(t('emptyTrash.done'));
    } catch (err) {
      if (!isSessionEnd(err)) setError(errorText(err, ''));
    }
    setBusy(false);
    setConfirming(false);
    setReload((n) => n + 1);
  }

  const count = items?.length ?? 0;
  return (
    <div className="view">
      <div className="view-head">
        <button type="button" className="button subtle" onClick={onBack}>
          <Icon name="back" />
          <span>{t('backToFiles')}</span>
        </button>
      </div>
      <div className="title-row">
        <ScreenHeading>{t('trashTitle')}</ScreenHeading>
        <button type="button" className="button danger" onClick={() => setConfirming(true)} disabled={count === 0}>
          <Icon name="trash" />
          <span>{t('emptyTrash')}</span>
        </button>
      </div>
      <p className="hint view-intro">{t('trashIntro')}</p>
      <p className="notice" aria-live="polite">
        {notice}
      </p>
      {error !== null && (
        <p role="alert" className="alert">
          {error}
        </p>
      )}
      {items === null && error === null && <p className="muted">{t('loading')}</p>}
      {items !== null && count === 0 && <p className="empty">{t('trashEmpty')}</p>}
      {items !== null && count > 0 && (
        <table className="items" aria-label={t('trashTable')}>
          <thead>
            <tr>
              <th scope="col" className="col-name">
                {t('name')}
              </th>
              <th scope="col" className="col-size">
                {t('originalLocation')}
              </th>
              <th scope="col" className="col-modified">
                {t('deleted')}
              </th>
              <th scope="col" className="col-actions">
                <span className="sr-only">{t('actions')}</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {items.map((item) => {
              const from = parentPath(item.originalPath ?? item.path);
              const when = item.trashedAt === undefined ? '' : formatDate(item.trashedAt);
              return (
                <tr key={item.id}>
                  <td className="col-name">
                    <div className="name-cell">
                      <Icon name={item.kind === 'folder' ? 'folder' : 'file'} className={item.kind === 'folder' ? 'kind-icon folder-icon' : 'kind-icon'} />
                      <div className="name-text">
                        <span className="item-name">{item.name}</span>
                        <span className="item-meta">
                          {from} · {when}
                        </span>
                      </div>
                    </div>
                  </td>
                  <td className="col-size">{from}</td>
                  <td className="col-modified">{when}</td>
                  <td className="col-actions">
                    <div className="row-actions">
                      <button type="button" className="button icon-button" aria-label={t('restore.label', { name: item.name })} onClick={() => void restore(item)}>
                        <Icon name="restore" />
                        <span className="button-label">{t('restore')}</span>
                      </button>
                    </div>
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      <Dialog title={t('emptyTrash.dialog')} open={confirming} onClose={() => setConfirming(false)}>
        <p>{count === 1 ? t('emptyTrash.one') : t('emptyTrash.text', { n: count })}</p>
        <div className="actions">
          <button type="button" className="button" onClick={() => setConfirming(false)}>
            {t('cancel')}
          </button>
          <button type="button" className="button danger" aria-disabled={busy} onClick={() => void emptyTrash()}>
            {t('emptyTrash')}
          </button>
        </div>
      </Dialog>
    </div>
  );
}
