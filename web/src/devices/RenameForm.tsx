// The inline rename of the Devices screen (this device's name, a share's name): a field with Save
// and Cancel. The server checks the name; a refused one stays in the field to be corrected.
import { useState } from 'react';

export interface RenameText {
  label: string;
  help: string;
  save: string;
  cancel: string;
}

/**
 * `onSave` gets the trimmed name and says whether it was taken; the form closes (`onClose`) only
 * then, or on Cancel.
 */
export function RenameForm({ id, initial, maxLength, busy, text, onSave, onClose }: {
  id: string;
  initial: string;
  maxLength: number;
  busy: boolean;
  text: RenameText;
  onSave: (name: string) => Promise<boolean>;
  onClose: () => void;
}) {
  const [draft, setDraft] = useState(initial);
  return (
    <form
      className="rename-form"
      onSubmit={(e) => {
        e.preventDefault();
        if (draft.trim() === '') return;
        void onSave(draft.trim()).then((ok) => ok && onClose());
      }}
    >
      <label htmlFor={id} className="sr-only">
        {text.label}
      </label>
      <input id={id} type="text" value={draft} onChange={(e) => setDraft(e.target.value)} maxLength={maxLength} autoComplete="off" aria-describedby={`${id}-help`} />
      <button type="submit" className="button small primary" disabled={busy || draft.trim() === ''}>
        {text.save}
      </button>
      <button type="button" className="button small" onClick={onClose}>
        {text.cancel}
      </button>
      <p id={`${id}-help`} className="muted">
        {text.help}
      </p>
    </form>
  );
}
