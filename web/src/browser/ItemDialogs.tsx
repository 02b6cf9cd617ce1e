import { useEffect, useId, useRef, useState } from 'react';
import type { FormEvent, ReactNode } from 'react';
import { api } from '../api.ts';
import type { Item } from '../api.ts';
import { t } from '../strings/browser.ts';
import { allFolders, isInside } from './folders.ts';
import { errorText, folderLabel } from './messages.ts';

// The forms inside the New folder, Rename and Move dialogs. Each mounts when its dialog opens
// (Dialog renders its children only while open), so every opening starts from a clean form.

function DialogActions({ onCancel, submit, busy, disabled }: { onCancel: () => void; submit: string; busy: boolean; disabled?: boolean }) {
  return (
    <div className="actions">
      <button type="button" className="button" onClick={onCancel}>
        {t('cancel')}
      </button>
      <button type="submit" className="button primary" aria-disabled={busy} disabled={disabled}>
        {submit}
      </button>
    </div>
  );
}

function ErrorText({ children }: { children: ReactNode }) {
  return (
    <p role="alert" className="alert">
      {children}
    </p>
  );
}

/** A name field's problem before asking the server: only emptiness; the server checks the rest. */
function blank(name: string): boolean {
  return name.trim() === '';
}

export function NewFolderForm({ parent, onDone, onCancel }: { parent: string | null; onDone: (folder: Item) => void; onCancel: () => void }) {
  const [name, setName] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const id = useId();

  async function submit(event: FormEvent) {
    event.preventDefault();
    if (busy) return;
    if (blank(name)) {
      setError(t('error.blank'));
      return;
    }
    setBusy(true);
    try {
      const { item } = await api.mkdir(parent, name.trim());
      onDone(item);
    } catch (err) {
      setBusy(false);
      setError(errorText(err, name.trim()));
    }
  }

  return (
    <form onSubmit={submit} className="dialog-form" noValidate>
      <div className="field">
        <label htmlFor={id}>{t('folderName')}</label>
        <input id={id} type="text" value={name} onChange={(e) => setName(e.target.value)} autoComplete="off" maxLength={255} />
      </div>
      {error !== null && <ErrorText>{error}</ErrorText>}
      <DialogActions onCancel={onCancel} submit={t('create')} busy={busy} />
    </form>
  );
}

export function RenameForm({ item, onDone, onCancel }: { item: Item; onDone: (renamed: Item) => void; onCancel: () => void }) {
  const [name, setName] = useState(item.name);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const input = useRef<HTMLInputElement>(null);
  const id = useId();

  // Select the name without its extension, as file managers do: typing replaces just that.
  useEffect(() => {
    const dot = item.kind === 'file' ? item.name.lastIndexOf('.') : -1;
    input.current?.setSelectionRange(0, dot > 0 ? dot : item.name.length);
  }, [item]);

  async function submit(event: FormEvent) {
    event.preventDefault();
    if (busy) return;
    const next = name.trim();
    if (blank(next)) {
      setError(t('error.blank'));
      return;
    }
    if (next === item.name) {
      onCancel();
      return;
    }
    setBusy(true);
    try {
      const { item: renamed } = await api.rename(item.id, next);
      onDone(renamed);
    } catch (err) {
      setBusy(false);
      setError(errorText(err, next));
    }
  }

  return (
    <form onSubmit={submit} className="dialog-form" noValidate>
      <div className="field">
        <label htmlFor={id}>{t('newName')}</label>
        <input ref={input} id={id} type="text" value={name} onChange={(e) => setName(e.target.value)} autoComplete="off" maxLength={255} />
      </div>
      {error !== null && <ErrorText>{error}</ErrorText>}
      <DialogActions onCancel={onCancel} submit={t('save')} busy={busy} />
    </form>
  );
}

/** The value of the root in the destination select (folder ids are 32 hex digits). */
const ROOT = '';

export function MoveForm({ item, onDone, onCancel }: { item: Item; onDone: (moved: Item, destination: string) => void; onCancel: () => void }) {
  const [folders, setFolders] = useState<Item[] | null>(null);
  const [chosen, setChosen] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const id = useId();
  const hintId = useId();

  useEffect(() => {
    const walk = new AbortController();
    allFolders(walk.signal).then(
      (found) => {
        if (!walk.signal.aborted) setFolders(found);
      },
      (err: unknown) => {
        if (walk.signal.aborted) return;
        setFolders([]);
        setError(errorText(err, item.name));
      },
    );
    return () => walk.abort();
  }, [item]);

  // Where the item is now, by path (items do not carry their parent's id); null until known.
  const here = item.path.slice(0, item.path.lastIndexOf('/'));
  const from = here === '' ? ROOT : (folders?.find((folder) => folder.path === here)?.id ?? null);
  const destination = chosen ?? from ?? ROOT;
  // A folder cannot go into itself or anything below it.
  const targets = folders?.filter((folder) => item.kind !== 'folder' || !isInside(folder.path, item.path));
  const label = (value: string) => (value === ROOT ? folderLabel(null) : folderLabel(folders?.find((folder) => folder.id === value)?.path ?? null));

  async function submit(event: FormEvent) {
    event.preventDefault();
    if (busy || destination === from) return;
    setBusy(true);
    try {
      const { item: moved } = await api.move(item.id, destination === ROOT ? null : destination);
      onDone(moved, label(destination));
    } catch (err) {
      setBusy(false);
      setError(errorText(err, item.name));
    }
  }

  return (
    <form onSubmit={submit} className="dialog-form" noValidate>
      <p>{t('move.text', { name: item.name })}</p>
      <div className="field">
        <label htmlFor={id}>{t('destination')}</label>
        <select id={id} value={destination} onChange={(e) => setChosen(e.target.value)} aria-describedby={folders === null ? hintId : undefined}>
          <option value={ROOT}>{t('root')}</option>
          {targets?.map((folder) => (
            <option key={folder.id} value={folder.id}>
              {folder.path}
            </option>
          ))}
        </select>
        {folders === null && (
          <p id={hintId} className="hint" aria-live="polite">
            {t('move.loading')}
          </p>
        )}
      </div>
      {error !== null && <ErrorText>{error}</ErrorText>}
      <DialogActions onCancel={onCancel} submit={t('moveHere')} busy={busy} disabled={destination === from} />
    </form>
  );
}
