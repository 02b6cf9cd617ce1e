import { useEffect, useId, useRef, useState } from 'react';
import type { FormEvent } from 'react';
import { api, ApiError } from '../api.ts';
import { ScreenHeading } from '../components/ScreenHeading.tsx';
import { t } from '../strings/unlock.ts';

type Failure = { kind: 'message'; text: string } | { kind: 'wait'; until: number };

/** Seconds the server asked us to wait: Retry-After, or the number in its message as a fallback. */
function waitSeconds(err: ApiError): number {
  if (err.retryAfter !== undefined && Number.isFinite(err.retryAfter)) return Math.max(1, err.retryAfter);
  const match = /(\d+)\s*s\b/.exec(err.message);
  return match === null ? 5 : Math.max(1, Number(match[1]));
}

/**
 * The unlock screen: a passphrase, or one of the recovery codes. The server slows down repeated
 * failures (429 with Retry-After); the countdown shows how long, and Unlock waits it out.
 * `onNotInitialized` covers a vault that is gone (shredded from another tab) since the page loaded.
 */
export function Unlock({ onUnlocked, onNotInitialized }: { onUnlocked: (viaRecoveryCode: boolean) => void; onNotInitialized: () => void }) {
  const [mode, setMode] = useState<'passphrase' | 'recovery'>('passphrase');
  const [secret, setSecret] = useState('');
  const [busy, setBusy] = useState(false);
  const [failure, setFailure] = useState<Failure | null>(null);
  const [now, setNow] = useState(() => Date.now());
  const inputRef = useRef<HTMLInputElement>(null);
  const hintId = useId();

  const waitLeft = failure?.kind === 'wait' ? Math.max(0, Math.ceil((failure.until - now) / 1000)) : 0;

  useEffect(() => {
    if (failure?.kind !== 'wait') return;
    const timer = setInterval(() => {
      const current = Date.now();
      setNow(current);
      if (current >= failure.until) {
        setFailure(null);
        clearInterval(timer);
      }
    }, 250);
    return () => clearInterval(timer);
  }, [failure]);

  function switchMode() {
    setMode(mode === 'passphrase' ? 'recovery' : 'passphrase');
    setSecret('');
    if (failure?.kind === 'message') setFailure(null);
    // The input is replaced by the other one; keep the keyboard user in the form.
    requestAnimationFrame(() => inputRef.current?.focus());
  }

  async function submit(event: FormEvent) {
    event.preventDefault();
    if (busy || waitLeft > 0) return;
    if (secret.trim() === '') {
      setFailure({ kind: 'message', text: mode === 'passphrase' ? t('error.empty') : t('error.emptyCode') });
      inputRef.current?.focus();
      return;
    }
    setBusy(true);
    setFailure(null);
    try {
      const result = await api.unlock(mode === 'passphrase' ? { passphrase: secret } : { recoveryCode: secret.trim() });
      setSecret('');
      onUnlocked(result.viaRecoveryCode);
      return;
    } catch (err) {
      setBusy(false);
      if (!(err instanceof ApiError)) {
        setFailure({ kind: 'message', text: t('error.other', { message: String(err) }) });
      } else if (err.code === 'VAULT_RATE_LIMITED') {
        setNow(Date.now());
        setFailure({ kind: 'wait', until: Date.now() + waitSeconds(err) * 1000 });
      } else if (err.code === 'VAULT_NOT_INITIALIZED') {
        onNotInitialized();
        return;
      } else if (err.code === 'VAULT_WRONG_SECRET') {
        setFailure({ kind: 'message', text: mode === 'passphrase' ? t('error.wrong') : t('error.wrongCode') });
        // A code is kept to fix a typo in; a passphrase is typed again from scratch.
        if (mode === 'passphrase') setSecret('');
      } else if (err.code === 'INVALID_INPUT' && mode === 'recovery') {
        setFailure({ kind: 'message', text: t('error.badCode', { message: err.message }) });
      } else {
        setFailure({ kind: 'message', text: t('error.other', { message: err.message }) });
      }
      inputRef.current?.focus();
    }
  }

  const inputId = mode === 'passphrase' ? 'unlock-passphrase' : 'unlock-recovery';
  return (
    <div className="card">
      <ScreenHeading>{t('title')}</ScreenHeading>
      <p className="lead">{mode === 'passphrase' ? t('intro') : t('introRecovery')}</p>
      <form onSubmit={submit} noValidate>
        <div className="field">
          <label htmlFor={inputId}>{mode === 'passphrase' ? t('passphrase') : t('recoveryCode')}</label>
          {mode === 'passphrase' ? (
            <input
              key="passphrase"
              ref={inputRef}
              id={inputId}
              type="password"
              autoComplete="current-password"
              value={secret}
              onChange={(e) => setSecret(e.target.value)}
              maxLength={1024}
            />
          ) : (
            <input
              key="recovery"
              ref={inputRef}
              id={inputId}
              type="text"
              className="mono"
              autoComplete="off"
              autoCapitalize="characters"
              spellCheck={false}
              value={secret}
              onChange={(e) => setSecret(e.target.value)}
              aria-describedby={hintId}
              maxLength={64}
            />
          )}
          {mode === 'recovery' && (
            <p id={hintId} className="hint">
              {t('recoveryCode.hint')}
            </p>
          )}
        </div>
        {failure !== null && (
          <p role="alert" className="alert">
            {failure.kind === 'message' ? failure.text : t('wait', { n: waitLeft })}
          </p>
        )}
        {busy && (
          <p className="hint" aria-live="polite">
            {t('unlocking')}
          </p>
        )}
        <div className="actions actions-split">
          <button type="button" className="button subtle" onClick={switchMode}>
            {mode === 'passphrase' ? t('useRecovery') : t('usePassphrase')}
          </button>
          <button type="submit" className="button primary" disabled={waitLeft > 0} aria-disabled={busy}>
            {t('unlock')}
          </button>
        </div>
      </form>
    </div>
  );
}
