import type { KeyboardEvent, Ref } from 'react';
import { t } from './strings.ts';

export interface ComposerProps {
  ref: Ref<HTMLTextAreaElement>;
  draft: string;
  onDraft: (text: string) => void;
  /** no model: nothing can be sent */
  disabled: boolean;
  /** an answer of this conversation is streaming: Stop instead of Send */
  streaming: boolean;
  /** an answer (of any conversation) is still being finished */
  busy: boolean;
  onSend: () => void;
  onStop: () => void;
}

/** The message box: Enter sends, Shift+Enter starts a new line; Stop (or Escape) while an answer streams. */
export function Composer({ ref, draft, onDraft, disabled, streaming, busy, onSend, onStop }: ComposerProps) {
  function onKeyDown(event: KeyboardEvent<HTMLTextAreaElement>) {
    // Escape stops an answer from the keyboard, as the Stop button does.
    if (event.key === 'Escape' && streaming) {
      event.preventDefault();
      onStop();
      return;
    }
    // Not while an input method is composing a character (Enter confirms it there).
    if (event.key === 'Enter' && !event.shiftKey && !event.nativeEvent.isComposing) {
      event.preventDefault();
      onSend();
    }
  }
  return (
    <form
      className="composer"
      onSubmit={(e) => {
        e.preventDefault();
        onSend();
      }}
    >
      <label htmlFor="chat-message" className="sr-only">
        {t('message')}
      </label>
      <textarea
        id="chat-message"
        ref={ref}
        className="textarea"
        rows={3}
        value={draft}
        placeholder={t('message.placeholder')}
        aria-describedby="chat-message-hint"
        aria-keyshortcuts="Enter Escape"
        disabled={disabled}
        onChange={(e) => onDraft(e.target.value)}
        onKeyDown={onKeyDown}
      />
      <p id="chat-message-hint" className="hint composer-hint">
        {t('message.hint')}
      </p>
      <div className="composer-actions">
        {streaming ? (
          <button type="button" className="button danger" onClick={onStop}>
            {t('stop')}
          </button>
        ) : (
          <button type="submit" className="button primary" disabled={disabled || draft.trim() === '' || busy}>
            {t('send')}
          </button>
        )}
      </div>
    </form>
  );
}
