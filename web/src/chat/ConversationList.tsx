import { useState } from 'react';
import { Dialog } from '../components/Dialog.tsx';
import { Icon } from '../components/Icon.tsx';
import { ChatTrash } from './ChatTrash.tsx';
import { chatApi } from './client.ts';
import type { Conversation } from './client.ts';
import { t } from './strings.ts';

export interface ConversationListProps {
  conversations: Conversation[] | null;
  selected: string | null;
  query: string;
  onQuery: (text: string) => void;
  onSelect: (id: string) => void;
  onNew: () => void;
  onRename: (id: string, title: string) => Promise<void>;
  onDelete: (id: string) => Promise<void>;
  /** a conversation came back from the trash */
  onRestored: () => void;
}

/** The conversations: new, search, open, rename, delete (to the trash, asked first). */
export function ConversationList(props: ConversationListProps) {
  const [renaming, setRenaming] = useState<Conversation | null>(null);
  const [deleting, setDeleting] = useState<Conversation | null>(null);
  const [title, setTitle] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [showTrash, setShowTrash] = useState(false);

  async function run(action: () => Promise<void>, close: () => void) {
    setBusy(true);
    setError(null);
    try {
      await action();
      close();
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  }

  const list = props.conversations;
  if (showTrash) {
    return (
      <nav className="chat-sidebar" aria-label={t('conversations')}>
        <ChatTrash onBack={() => setShowTrash(false)} onRestored={props.onRestored} />
      </nav>
    );
  }
  return (
    <nav className="chat-sidebar" aria-label={t('conversations')}>
      <button type="button" className="button primary chat-new" onClick={props.onNew}>
        <Icon name="rename" />
        <span>{t('newChat')}</span>
      </button>
      <div className="search chat-search">
        <Icon name="search" className="search-icon" />
        <input
          type="search"
          aria-label={t('searchChats')}
          placeholder={t('search.placeholder')}
          value={props.query}
          onChange={(e) => props.onQuery(e.target.value)}
          maxLength={256}
          autoComplete="off"
        />
      </div>
      {list === null && <p className="muted">{t('loading')}</p>}
      {list !== null && list.length === 0 && (
        <p className="muted chat-none">{props.query.trim() === '' ? t('noChats') : t('search.none', { q: props.query.trim() })}</p>
      )}
      {list !== null && list.length > 0 && (
        <ul className="chat-list">
          {list.map((c) => (
            <li key={c.id} className={c.id === props.selected ? 'chat-item selected' : 'chat-item'}>
              <button type="button" className="chat-open" aria-current={c.id === props.selected ? 'page' : undefined} onClick={() => props.onSelect(c.id)}>
                {c.title}
              </button>
              <span className="chat-item-actions">
                <a className="button subtle small icon-button" href={chatApi.exportUrl(c.id)} download aria-label={t('export', { title: c.title })} title={t('export', { title: c.title })}>
                  <Icon name="download" />
                </a>
                <button
                  type="button"
                  className="button subtle small icon-button"
                  aria-label={t('rename', { title: c.title })}
                  title={t('rename', { title: c.title })}
                  onClick={() => {
                    setTitle(c.title);
                    setError(null);
                    setRenaming(c);
                  }}
                >
                  <Icon name="rename" />
                </button>
                <button
                  type="button"
                  className="button subtle small icon-button"
                  aria-label={t('delete', { title: c.title })}
                  title={t('delete', { title: c.title })}
                  onClick={() => {
                    setError(null);
                    setDeleting(c);
                  }}
                >
                  <Icon name="trash" />
                </button>
              </span>
            </li>
          ))}
        </ul>
      )}

      <button type="button" className="button subtle small chat-trash-link" onClick={() => setShowTrash(true)}>
        <Icon name="trash" />
        <span>{t('trash')}</span>
      </button>

      <Dialog title={t('rename.dialog')} open={renaming !== null} onClose={() => setRenaming(null)}>
        <form
          className="dialog-form"
          onSubmit={(e) => {
            e.preventDefault();
            const target = renaming;
            if (target === null || title.trim() === '') return;
            void run(() => props.onRename(target.id, title.trim()), () => setRenaming(null));
          }}
        >
          <div className="field">
            <label htmlFor="chat-rename">{t('rename.label')}</label>
            <input id="chat-rename" type="text" value={title} onChange={(e) => setTitle(e.target.value)} maxLength={200} autoFocus required />
          </div>
          {error !== null && (
            <p role="alert" className="alert">
              {error}
            </p>
          )}
          <div className="actions">
            <button type="button" className="button" onClick={() => setRenaming(null)}>
              {t('cancel')}
            </button>
            <button type="submit" className="button primary" disabled={busy || title.trim() === ''}>
              {t('save')}
            </button>
          </div>
        </form>
      </Dialog>

      <Dialog title={t('delete.dialog')} open={deleting !== null} onClose={() => setDeleting(null)}>
        {deleting !== null && <p>{t('delete.text', { title: deleting.title })}</p>}
        {error !== null && (
          <p role="alert" className="alert">
            {error}
          </p>
        )}
        <div className="actions">
          <button type="button" className="button" onClick={() => setDeleting(null)}>
            {t('cancel')}
          </button>
          <button
            type="button"
            className="button danger"
            disabled={busy}
            onClick={() => {
              const target = deleting;
              if (target !== null) void run(() => props.onDelete(target.id), () => setDeleting(null));
            }}
          >
            {t('delete.confirm')}
          </button>
        </div>
      </Dialog>
    </nav>
  );
}
