import { useId, useState } from 'react';
import type { FormEvent } from 'react';
import { ApiError } from '../api.ts';
import { backupApi } from '../backup/client.ts';
import type { Progress } from '../backup/client.ts';
import { ProgressLine } from '../backup/ProgressLine.tsx';
import { t } from '../backup/strings.ts';
import { TargetFields, useTargetFields } from '../backup/TargetFields.tsx';
import { ScreenHeading } from '../components/ScreenHeading.tsx';

/**
 * First run, "Restore from a backup": where the backup is and one secret (the passphrase or a
 * recovery code of any vault in it); the whole data folder comes back, with live progress. The
 * secret is sent once, in the request, and kept nowhere. Run again after an interruption, the
 * restore fetches only what is missing.
 */
export default function RestoreBackup({ onRestored, onBack }: { onRestored: () => void; onBack: () => void }) {
  const id = useId();
  const fields = useTargetFields();
  const [useCode, setUseCode] = useState(false);
  const [secret, setSecret] = useState('');
  const [busy, setBusy] = useState(false);
  const [progress, setProgress] = useState<Progress | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState(false);

  async function submit(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await backupApi.restoreFresh(fields.toInput(), useCode ? { recoveryCode: secret } : { passphrase: secret }, setProgress);
      setSecret('');
      setDone(true);
    } catch (err) {
      setError(err instanceof ApiError || err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
      setProgress(null);
    }
  }

  if (done) {
    return (
      <div className="card card-wide">
        <ScreenHeading>{t('first.title')}</ScreenHeading>
        <p role="status" className="lead">
          {t('first.done')}
        </p>
        <div className="actions">
          <button type="button" className="button primary" onClick={onRestored}>
            {t('first.continue')}
          </button>
        </div>
      </div>
    );
  }
  return (
    <div className="card card-wide">
      <ScreenHeading>{t('first.title')}</ScreenHeading>
      <p className="lead">{t('first.intro')}</p>
      <form noValidate onSubmit={submit}>
        <TargetFields fields={fields} />
        <div className="field">
          <label htmlFor={id + 'secret'}>{useCode ? t('first.code') : t('first.secret')}</label>
          <input id={id + 'secret'} type={useCode ? 'text' : 'password'} autoComplete="off" value={secret} onChange={(e) => setSecret(e.target.value)} />
        </div>
        <label className="field field-check">
          <input type="checkbox" checked={useCode} onChange={(e) => (setUseCode(e.target.checked), setSecret(''))} />
          {t('first.useCode')}
        </label>
        {progress !== null && <ProgressLine progress={progress} />}
        {error !== null && (
          <p role="alert" className="alert">
            {error}
          </p>
        )}
        <div className="actions">
          <button type="button" className="button" onClick={onBack} disabled={busy}>
            {t('first.back')}
          </button>
          <button type="submit" className="button primary" disabled={busy || secret === ''}>
            {busy ? t('first.going') : t('first.go')}
          </button>
        </div>
      </form>
    </div>
  );
}
