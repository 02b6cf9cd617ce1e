import { useDeferredValue, useEffect, useId, useMemo, useState } from 'react';
import type { FormEvent } from 'react';
import { api, ApiError } from '../api.ts';
import { ScreenHeading } from '../components/ScreenHeading.tsx';
import { t } from '../strings/setup.ts';
import type { ScoreKey } from '../strings/setup.ts';
import { loadStrengthChecker } from './strength.ts';
import type { Strength, StrengthChecker } from './strength.ts';

/** zxcvbn's "Good": about 10^10 guesses, years against a slow hash such as our Argon2id. */
export const MIN_SCORE = 3;
/** Without the checker (its chunk failed to load) we can only insist on length. */
const FALLBACK_MIN_LENGTH = 16;

export interface SetupResult {
  recoveryCodes: string[];
  decoyRecoveryCodes?: string[];
}

const scoreKey = (score: number): ScoreKey => ('score.' + score) as ScoreKey;

function StrengthMeter({ strength, loading, failed }: { strength: Strength | null; loading: boolean; failed: boolean }) {
  const labelId = useId();
  const score = strength?.score ?? 0;
  const verdict = strength === null ? '' : t(scoreKey(score));
  return (
    <div className="strength">
      <div className="strength-row">
        <span id={labelId} className="strength-label">
          {t('strength')}
        </span>
        <div
          className={'meter meter-' + (strength === null ? 'none' : score)}
          role="meter"
          aria-labelledby={labelId}
          aria-valuemin={0}
          aria-valuemax={4}
          aria-valuenow={score}
          aria-valuetext={verdict === '' ? t('strength.empty') : verdict}
        >
          {[0, 1, 2, 3].map((i) => (
            <span key={i} className={strength !== null && (score > i || (score === 0 && i === 0)) ? 'meter-seg on' : 'meter-seg'} />
          ))}
        </div>
        <span className="strength-verdict">{verdict}</span>
      </div>
      <div className="strength-feedback" aria-live="polite">
        {loading && <p className="hint">{t('strength.loading')}</p>}
        {failed && <p className="hint">{t('error.short', { n: FALLBACK_MIN_LENGTH })}</p>}
        {strength === null && !loading && !failed && <p className="hint">{t('strength.empty')}</p>}
        {strength !== null && (
          <>
            {strength.warning !== null && strength.warning !== '' && <p className="feedback-warning">{strength.warning}</p>}
            {strength.suggestions.length > 0 && (
              <ul className="feedback-list">
                {strength.suggestions.map((s) => (
                  <li key={s}>{s}</li>
                ))}
              </ul>
            )}
            <p className="hint">{t('strength.crack', { time: strength.crackTime })}</p>
          </>
        )}
      </div>
    </div>
  );
}

/** What is wrong with the form, in the order the user meets the fields; null when it can go. */
function problemOf(form: { passphrase: string; repeat: string; decoyOn: boolean; decoy: string; decoyRepeat: string }, check: StrengthChecker | null): string | null {
  const tooWeak = (secret: string): string | null => {
    if (check === null) return secret.length < FALLBACK_MIN_LENGTH ? t('error.short', { n: FALLBACK_MIN_LENGTH }) : null;
    const { score } = check(secret);
    return score < MIN_SCORE ? t(scoreKey(score)) : null;
  };
  if (form.passphrase === '') return t('error.empty');
  const weak = tooWeak(form.passphrase);
  if (weak !== null) return check === null ? weak : t('error.weak', { verdict: weak });
  if (form.repeat !== form.passphrase) return t('error.mismatch');
  if (!form.decoyOn) return null;
  if (form.decoy === '') return t('error.decoyEmpty');
  if (form.decoy === form.passphrase) return t('error.decoySame');
  const decoyWeak = tooWeak(form.decoy);
  if (decoyWeak !== null) return check === null ? decoyWeak : t('error.decoyWeak', { verdict: decoyWeak });
  if (form.decoyRepeat !== form.decoy) return t('error.decoyMismatch');
  return null;
}

/**
 * First run: choose the passphrase (and optionally a decoy one). On success the parent shows
 * the recovery codes; the passphrase goes with them so that "Continue" can unlock.
 */
export function Setup({ onCreated }: { onCreated: (result: SetupResult, passphrase: string) => void }) {
  const [passphrase, setPassphrase] = useState('');
  const [repeat, setRepeat] = useState('');
  const [decoyOn, setDecoyOn] = useState(false);
  const [decoy, setDecoy] = useState('');
  const [decoyRepeat, setDecoyRepeat] = useState('');
  const [reserveOn, setReserveOn] = useState(false);
  const [reserve, setReserve] = useState('32G');
  const [checker, setChecker] = useState<{ check: StrengthChecker | null; failed: boolean }>({ check: null, failed: false });
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const ids = { hint: useId(), decoyHint: useId(), reserveHint: useId() };

  useEffect(() => {
    let live = true;
    loadStrengthChecker().then(
      (check) => live && setChecker({ check, failed: false }),
      () => live && setChecker({ check: null, failed: true }),
    );
    return () => {
      live = false;
    };
  }, []);

  /** A stale complaint goes as soon as the user changes what it was about. */
  function edit(set: (value: string) => void, value: string) {
    set(value);
    setError(null);
  }

  // zxcvbn takes a few milliseconds on a long phrase: typing stays ahead of the meter.
  const deferred = useDeferredValue(passphrase);
  const { check } = checker;
  const strength = useMemo(() => (check !== null && deferred !== '' ? check(deferred) : null), [check, deferred]);

  async function submit(event: FormEvent) {
    event.preventDefault();
    if (busy) return;
    const problem = problemOf({ passphrase, repeat, decoyOn, decoy, decoyRepeat }, checker.check);
    // The same size syntax as `elohim init --reserve`; the server checks it again.
    const sizeProblem = reserveOn && !/^\s*\d+(\.\d+)?\s*[kmgt]?i?b?\s*$/i.test(reserve) ? t('error.reserveSize') : null;
    setError(problem ?? sizeProblem);
    if (problem !== null || sizeProblem !== null) return;
    setBusy(true);
    try {
      const result = await api.setup(passphrase, decoyOn ? decoy : undefined, reserveOn ? reserve.trim() : undefined);
      onCreated(result, passphrase);
    } catch (err) {
      setBusy(false);
      if (err instanceof ApiError && err.code === 'VAULT_ALREADY_INITIALIZED') setError(t('error.exists'));
      else setError(t('error.other', { message: err instanceof Error ? err.message : String(err) }));
    }
  }

  return (
    <div className="card card-wide">
      <ScreenHeading>{t('title')}</ScreenHeading>
      <p className="lead">{t('intro')}</p>
      <form onSubmit={submit} noValidate>
        <div className="field">
          <label htmlFor="setup-passphrase">{t('passphrase')}</label>
          <input
            id="setup-passphrase"
            type="password"
            autoComplete="new-password"
            value={passphrase}
            onChange={(e) => edit(setPassphrase, e.target.value)}
            aria-describedby={ids.hint}
            maxLength={1024}
            readOnly={busy}
          />
          <p id={ids.hint} className="hint">
            {t('passphrase.hint')}
          </p>
        </div>
        <StrengthMeter strength={strength} loading={checker.check === null && !checker.failed} failed={checker.failed} />
        <div className="field">
          <label htmlFor="setup-repeat">{t('repeat')}</label>
          <input id="setup-repeat" type="password" autoComplete="new-password" value={repeat} onChange={(e) => edit(setRepeat, e.target.value)} maxLength={1024} readOnly={busy} />
        </div>

        <div className="field field-check">
          <input id="setup-decoy" type="checkbox" checked={decoyOn} onChange={(e) => setDecoyOn(e.target.checked)} aria-describedby={ids.decoyHint} readOnly={busy} />
          <label htmlFor="setup-decoy">{t('decoy')}</label>
        </div>
        <p id={ids.decoyHint} className="hint check-hint">
          {t('decoy.hint')}
        </p>
        {decoyOn && (
          <div className="decoy-fields">
            <div className="field">
              <label htmlFor="setup-decoy-passphrase">{t('decoyPassphrase')}</label>
              <input id="setup-decoy-passphrase" type="password" autoComplete="off" value={decoy} onChange={(e) => edit(setDecoy, e.target.value)} maxLength={1024} readOnly={busy} />
            </div>
            <div className="field">
              <label htmlFor="setup-decoy-repeat">{t('decoyRepeat')}</label>
              <input id="setup-decoy-repeat" type="password" autoComplete="off" value={decoyRepeat} onChange={(e) => edit(setDecoyRepeat, e.target.value)} maxLength={1024} readOnly={busy} />
            </div>
          </div>
        )}

        <div className="field field-check">
          <input id="setup-reserve" type="checkbox" checked={reserveOn} onChange={(e) => setReserveOn(e.target.checked)} aria-describedby={ids.reserveHint} readOnly={busy} />
          <label htmlFor="setup-reserve">{t('reserve')}</label>
        </div>
        <p id={ids.reserveHint} className="hint check-hint">
          {t('reserve.hint')}
        </p>
        {reserveOn && (
          <div className="field">
            <label htmlFor="setup-reserve-size">{t('reserveSize')}</label>
            <input id="setup-reserve-size" type="text" inputMode="text" value={reserve} onChange={(e) => edit(setReserve, e.target.value)} maxLength={32} readOnly={busy} />
          </div>
        )}

        {error !== null && (
          <p role="alert" className="alert">
            {error}
          </p>
        )}
        {busy && (
          <p className="hint" aria-live="polite">
            {t('creating')} {t('creating.hint')}
          </p>
        )}
        <div className="actions">
          {/* Not disabled while busy: a disabled button drops keyboard focus; submit ignores repeats. */}
          <button type="submit" className="button primary" aria-disabled={busy}>
            {t('create')}
          </button>
        </div>
      </form>
    </div>
  );
}
