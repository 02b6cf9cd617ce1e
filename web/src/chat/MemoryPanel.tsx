import { useEffect, useState } from 'react';
import { Dialog } from '../components/Dialog.tsx';
import { Icon } from '../components/Icon.tsx';
import { formatDate } from '../i18n.ts';
import { chatApi } from './client.ts';
import type { Memory } from './client.ts';
import { chatErrorText, isSessionEnd } from './errors.ts';
import { t } from './strings.ts';

/** A time as a date input's value, in local time ("2026-12-31"). */
function dateValue(ms: number): string {
  const d = new Date(ms);
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
}

/** The last moment of a date input's day, local time: "forget it on" that day means after it. */
function endOfDay(value: string): number {
  const [y, m, d] = value.split('-').map(Number) as [number, number, number];
  return new Date(y, m - 1, d, 23, 59, 59, 999).getTime();
}

/** A memory's text as a button name: the start of it is enough to tell memories apart. */
const short = (text: string) => (text.length > 60 ? text.slice(0, 57) + '…' : text);

export interface MemoryPanelProps {
  /** changes whenever something may have proposed memories (an answer finished) */
  reload: number;
  autoApprove: boolean;
  onAutoApprove: (on: boolean) => Promise<void>;
  /** opens the conversation a memory came from */
  onOpenConversation: (id: string) => void;
  /** whether the model is asked for memories after each answer */
  propose: boolean;
  onPropose: (on: boolean) => Promise<void>;
}

/**
 * The memory panel: memories the model proposed, to approve (as they are or edited) or reject;
 * the approved ones, to edit or forget; one to add by hand; and the auto-approve switch.
 */
export function MemoryPanel({ reload, autoApprove, onAutoApprove, propose, onPropose, onOpenConversation }: MemoryPanelProps) {
  const [memories, setMemories] = useState<Memory[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [editing, setEditing] = useState<Memory | null>(null);
  const [draft, setDraft] = useState('');
  /** the expiry being edited, as a date input's value (YYYY-MM-DD) or '' */
  const [expiry, setExpiry] = useState('');
  const [adding, setAdding] = useState('');
  const [busy, setBusy] = useState(false);
  const [refresh, setRefresh] = useState(0);

  useEffect(() => {
    let live = true;
    chatApi.memories().then(
      ({ memories: list }) => {
        if (!live) return;
        setMemories(list);
      },
      (err: unknown) => live && !isSessionEnd(err) && setError(chatErrorText(err)),
    );
    return () => {
      live = false;
    };
  }, [reload, refresh]);

  async function act(action: () => Promise<unknown>): Promise<boolean> {
    setBusy(true);
    setError(null);
    try {
      await action();
      setRefresh((n) => n + 1);
      return true;
    } catch (err) {
      if (!isSessionEnd(err)) setError(chatErrorText(err));
      return false;
    } finally {
      setBusy(false);
    }
  }

  const proposed = (memories ?? []).filter((m) => m.status === 'proposed');
  const approved = (memories ?? []).filter((m) => m.status === 'approved');

  const meta = (m: Memory) => (
    <span className="memory-meta">
      {m.source !== undefined && (
        <button type="button" className="link-button memory-source" title={t('memory.open')} onClick={() => onOpenConversation(m.source!.conversation)}>
          {t('memory.from', { date: formatDate(m.created) })}
        </button>
      )}
      {m.expires !== undefined && <> · {t('memory.expires', { date: formatDate(m.expires) })}</>}
    </span>
  );

  return (
    <section className="memory-panel" aria-labelledby="memory-heading">
      <h2 id="memory-heading">{t('memories')}</h2>
      <p className="hint">{t('memories.hint')}</p>
      <div className="field-check memory-auto">
        <input id="memory-propose" type="checkbox" checked={propose} disabled={busy} onChange={(e) => void act(() => onPropose(e.target.checked))} />
        <label htmlFor="memory-propose">{t('propose')}</label>
      </div>
      <div className="field-check">
        <input id="memory-auto" type="checkbox" checked={autoApprove} disabled={busy} onChange={(e) => void act(() => onAutoApprove(e.target.checked))} />
        <label htmlFor="memory-auto">{t('autoApprove')}</label>
      </div>
      {error !== null && (
        <p role="alert" className="alert">
          {error}
        </p>
      )}
      {memories === null && error === null && <p className="muted">{t('loading')}</p>}

      <h3>{t('proposed')}</h3>
      {memories !== null && proposed.length === 0 && <p className="muted">{t('proposed.none')}</p>}
      <ul className="memory-list" aria-label={t('proposed')}>
        {proposed.map((m) => (
          <li key={m.id} className="memory proposed">
            <p className="memory-text">{m.text}</p>
            {meta(m)}
            <div className="memory-actions">
              <button type="button" className="button small primary" disabled={busy} aria-label={t('approve', { text: short(m.text) })} onClick={() => void act(() => chatApi.approveMemory(m.id))}>
                {t('approveShort')}
              </button>
              <button
                type="button"
                className="button small"
                disabled={busy}
                aria-label={t('edit', { text: short(m.text) })}
                onClick={() => {
                  setDraft(m.text);
                  setExpiry(m.expires === undefined ? '' : dateValue(m.expires));
                  setEditing(m);
                }}
              >
                <Icon name="rename" />
              </button>
              <button type="button" className="button small" disabled={busy} aria-label={t('reject', { text: short(m.text) })} onClick={() => void act(() => chatApi.deleteMemory(m.id))}>
                {t('rejectShort')}
              </button>
            </div>
          </li>
        ))}
      </ul>

      <h3>{t('approved')}</h3>
      {memories !== null && approved.length === 0 && <p className="muted">{t('approved.none')}</p>}
      <ul className="memory-list" aria-label={t('approved')}>
        {approved.map((m) => (
          <li key={m.id} className="memory">
            <p className="memory-text">{m.text}</p>
            {meta(m)}
            <div className="memory-actions">
              <button
                type="button"
                className="button small subtle"
                disabled={busy}
                aria-label={t('edit', { text: short(m.text) })}
                onClick={() => {
                  setDraft(m.text);
                  setExpiry(m.expires === undefined ? '' : dateValue(m.expires));
                  setEditing(m);
                }}
              >
                <Icon name="rename" />
              </button>
              <button type="button" className="button small subtle" disabled={busy} aria-label={t('remove', { text: short(m.text) })} onClick={() => void act(() => chatApi.deleteMemory(m.id))}>
                <Icon name="trash" />
              </button>
            </div>
          </li>
        ))}
      </ul>

      <form
        className="memory-add"
        onSubmit={(e) => {
          e.preventDefault();
          const text = adding.trim();
          if (text === '') return;
          void act(() => chatApi.addMemory(text)).then((ok) => ok && setAdding(''));
        }}
      >
        <label htmlFor="memory-new">{t('memory.new')}</label>
        <div className="memory-add-row">
          <input id="memory-new" type="text" value={adding} onChange={(e) => setAdding(e.target.value)} maxLength={2000} />
          <button type="submit" className="button" disabled={busy || adding.trim() === ''}>
            {t('memory.add')}
          </button>
        </div>
      </form>

      <Dialog title={t('memory.edit')} open={editing !== null} onClose={() => setEditing(null)}>
        <form
          className="dialog-form"
          onSubmit={(e) => {
            e.preventDefault();
            const target = editing;
            const text = draft.trim();
            if (target === null || text === '') return;
            const expires = expiry === '' ? null : endOfDay(expiry);
            // Editing a proposed memory approves it as edited: that is what the user meant.
            const save = async () => {
              if (target.status === 'proposed') await chatApi.approveMemory(target.id, text);
              await chatApi.editMemory(target.id, { ...(target.status === 'proposed' ? {} : { text }), expires });
            };
            void act(save).then((ok) => ok && setEditing(null));
          }}
        >
          <div className="field">
            <label htmlFor="memory-edit">{t('memory.edit')}</label>
            <textarea id="memory-edit" className="textarea" rows={4} value={draft} onChange={(e) => setDraft(e.target.value)} maxLength={2000} autoFocus />
          </div>
          <div className="field">
            <label htmlFor="memory-expiry">{t('memory.expiry')}</label>
            <input id="memory-expiry" type="date" value={expiry} aria-describedby="memory-expiry-hint" onChange={(e) => setExpiry(e.target.value)} />
            <p id="memory-expiry-hint" className="hint">
              {t('memory.expiry.hint')}
            </p>
          </div>
          <div className="actions">
            <button type="button" className="button" onClick={() => setEditing(null)}>
              {t('cancel')}
            </button>
            <button type="submit" className="button primary" disabled={busy || draft.trim() === ''}>
              {t('save')}
            </button>
          </div>
        </form>
      </Dialog>
    </section>
  );
}
