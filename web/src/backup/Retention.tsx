import { useId, useState } from 'react';
import type { FormEvent } from 'react';
import { messageOf } from '../settings/settingsForm.tsx';
import { backupApi } from './client.ts';
import type { RetentionPolicy, TargetInfo } from './client.ts';
import { t } from './strings.ts';

/** A target's retention policy (applied after each backup): keep-last, daily, weekly, monthly. */
const RULES = ['last', 'daily', 'weekly', 'monthly'] as const;

export function Retention({ target, onSaved }: { target: TargetInfo; onSaved: () => void }) {
  const id = useId();
  const [values, setValues] = useState<Record<string, string>>(() => Object.fromEntries(RULES.map((r) => [r, target.retention?.[r] === undefined ? '' : String(target.retention[r])])));
  const [status, setStatus] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);

  async function save(event: FormEvent) {
    event.preventDefault();
    const policy: RetentionPolicy = {};
    for (const r of RULES) if (values[r]!.trim() !== '') policy[r] = Number(values[r]);
    try {
      await backupApi.setRetention(target.name, Object.keys(policy).length === 0 ? null : policy);
      setError(null);
      setStatus(t('retention.saved'));
      onSaved();
    } catch (err) {
      setStatus(null);
      setError(messageOf(err));
    }
  }

  return (
    <form className="settings-form" aria-label={t('retention', { name: target.name })} onSubmit={save}>
      <fieldset className="settings-fieldset">
        <legend>{t('retention', { name: target.name })}</legend>
        {RULES.map((r) => (
          <div className="settings-field" key={r}>
            <label htmlFor={id + r}>{t(`retention.${r}`)}</label>
            <input id={id + r} type="number" min={0} step={1} inputMode="numeric" value={values[r]} onChange={(e) => setValues((v) => ({ ...v, [r]: e.target.value }))} />
          </div>
        ))}
        <p className="settings-hint">{t('retention.hint')}</p>
      </fieldset>
      {error !== null && (
        <p role="alert" className="settings-error">
          {error}
        </p>
      )}
      {status !== null && (
        <p role="status" className="settings-status">
          {status}
        </p>
      )}
      <button type="submit" className="settings-button">
        {t('retention.save')}
      </button>
    </form>
  );
}
