import { useEffect, useId, useRef, useState } from 'react';
import type { FormEvent } from 'react';
import { api } from '../../api.ts';
import { Dialog } from '../../components/Dialog.tsx';
import { messageOf } from '../settingsForm.tsx';
import { t } from '../strings.ts';
import type { TabProps } from '../tabs.ts';

/** What the server wants typed before it shreds; the same in every language, so never translated. */
const SHRED_PHRASE = 'DESTROY ALL DATA';

export default function DangerZoneTab({ onClose }: TabProps) {
  return (
    <div className="settings-sections">
      <LockEverything onClose={onClose} />
      <DestroyAllData onClose={onClose} />
      <DecoyVault />
    </div>
  );
}

// After a panic or a shred the session is gone: api.ts tells the app shell, which shows the
// unlock (or first-run) screen. All that is left to do here is to close the modal.

function LockEverything({ onClose }: TabProps) {
  const id = useId();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  async function lockEverything(): Promise<void> {
    setBusy(true);
    setError(null);
    try {
      await api.panic();
      onClose();
    } catch (err) {
      setError(messageOf(err));
      setBusy(false);
    }
  }

  return (
    <section className="settings-section" aria-labelledby={id}>
      <h3 id={id}>{t('panic.heading')}</h3>
      <p>{t('panic.text')}</p>
      <button type="button" className="settings-button settings-danger" disabled={busy} onClick={() => void lockEverything()}>
        {t('panic.button')}
      </button>
      {error !== null && (
        <p role="alert" className="settings-error">
          {error}
        </p>
      )}
    </section>
  );
}

function DestroyAllData({ onClose }: TabProps) {
  const id = useId();
  const [phrase, setPhrase] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const matches = phrase === SHRED_PHRASE;

  async function destroy(event: FormEvent): Promise<void> {
    event.preventDefault();
    if (!matches) return;
    setBusy(true);
    setError(null);
    try {
      await api.shred(phrase);
      onClose();
    } catch (err) {
      setError(messageOf(err));
      setBusy(false);
    }
  }

  return (
    <section className="settings-section settings-section-danger" aria-labelledby={id + 'h'}>
      <h3 id={id + 'h'}>{t('shred.heading')}</h3>
      <p id={id + 'text'}>{t('shred.text')}</p>
      <form className="settings-form" onSubmit={(event) => void destroy(event)}>
        <div className="settings-field">
          <label htmlFor={id + 'phrase'}>{t('shred.confirm', { phrase: SHRED_PHRASE })}</label>
          <input
            id={id + 'phrase'}
            type="text"
            autoComplete="off"
            autoCapitalize="characters"
            spellCheck={false}
            value={phrase}
            aria-describedby={id + 'text'}
            onChange={(event) => setPhrase(event.target.value)}
          />
        </div>
        <button type="submit" className="settings-button settings-danger" disabled={!matches || busy}>
          {t('shred.button')}
        </button>
      </form>
      {error !== null && (
        <p role="alert" className="settings-error">
          {error}
        </p>
      )}
    </section>
  );
}

type DecoyState = { kind: 'checking' } | { kind: 'known'; exists: boolean } | { kind: 'failed'; message: string };

function DecoyVault() {
  const id = useId();
  const [state, setState] = useState<DecoyState>({ kind: 'checking' });
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [removed, setRemoved] = useState(false);
  const noneRef = useRef<HTMLParagraphElement>(null);

  useEffect(() => {
    let current = true;
    api.decoy().then(
      ({ exists }) => current && setState({ kind: 'known', exists }),
      (err: unknown) => current && setState({ kind: 'failed', message: messageOf(err) }),
    );
    return () => {
      current = false;
    };
  }, []);

  // The button that opened the confirmation is gone once the decoy is: keep focus in the section.
  useEffect(() => {
    if (removed) noneRef.current?.focus();
  }, [removed]);

  function cancel(): void {
    setConfirming(false);
    setError(null);
  }

  async function remove(): Promise<void> {
    setBusy(true);
    setError(null);
    try {
      await api.removeDecoy();
      setConfirming(false);
      setState({ kind: 'known', exists: false });
      setRemoved(true);
    } catch (err) {
      setError(messageOf(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <section className="settings-section" aria-labelledby={id}>
      <h3 id={id}>{t('decoy.heading')}</h3>
      {state.kind === 'checking' && <p className="settings-loading">{t('decoy.checking')}</p>}
      {state.kind === 'failed' && (
        <p role="alert" className="settings-error">
          {state.message}
        </p>
      )}
      {state.kind === 'known' && state.exists && (
        <>
          <p>{t('decoy.text')}</p>
          <button type="button" className="settings-button settings-danger" onClick={() => setConfirming(true)}>
            {t('decoy.button')}
          </button>
        </>
      )}
      {state.kind === 'known' && !state.exists && (
        <p ref={noneRef} tabIndex={-1}>
          {t('decoy.none')}
        </p>
      )}
      <p role="status" className="settings-status">
        {removed ? t('decoy.removed') : ''}
      </p>
      <Dialog
        title={t('decoy.dialog')}
        open={confirming}
        className="settings-confirm"
        onClose={() => {
          if (!busy) cancel();
        }}
      >
        <p>{t('decoy.dialogText')}</p>
        {error !== null && (
          <p role="alert" className="settings-error">
            {error}
          </p>
        )}
        <div className="settings-confirm-buttons">
          <button type="button" className="settings-button" disabled={busy} onClick={cancel}>
            {t('decoy.cancel')}
          </button>
          <button type="button" className="settings-button settings-danger" disabled={busy} onClick={() => void remove()}>
            {t('decoy.remove')}
          </button>
        </div>
      </Dialog>
    </section>
  );
}
