import { useId, useState } from 'react';
import type { FormEvent } from 'react';
import type { KdfCost, LogLevel, Settings } from '../../api.ts';
import { SaveRow, useSettings, wholeNumber } from '../settingsForm.tsx';
import { t } from '../strings.ts';

const KDF_COSTS: readonly KdfCost[] = ['standard', 'strong', 'maximum'];
const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug'];

export default function PowerUserTab() {
  const form = useSettings();
  if (form.loadError !== null) {
    return (
      <p role="alert" className="settings-error">
        {form.loadError}
      </p>
    );
  }
  if (form.settings === null) return <p className="settings-loading">{t('loading')}</p>;
  return <PowerUserForm settings={form.settings} form={form} />;
}

function PowerUserForm({ settings, form }: { settings: Settings; form: ReturnType<typeof useSettings> }) {
  const id = useId();
  const [port, setPort] = useState(String(settings.port));
  const [kdfCost, setKdfCost] = useState<KdfCost>(settings.kdfCost);
  const [logLevel, setLogLevel] = useState<LogLevel>(settings.logLevel);
  const [portInvalid, setPortInvalid] = useState(false);

  function submit(event: FormEvent): void {
    event.preventDefault();
    const value = wholeNumber(port);
    if (value === null || value < 1024 || value > 65535) {
      setPortInvalid(true);
      form.fail(t('port.invalid'));
      return;
    }
    setPortInvalid(false);
    void form.save({ port: value, kdfCost, logLevel });
  }

  return (
    <form className="settings-form" noValidate onSubmit={submit}>
      <div className="settings-field">
        <label htmlFor={id + 'port'}>{t('port')}</label>
        <input
          id={id + 'port'}
          type="number"
          inputMode="numeric"
          min={1024}
          max={65535}
          step={1}
          required
          value={port}
          aria-invalid={portInvalid}
          aria-describedby={id + 'port-hint'}
          onChange={(event) => {
            setPort(event.target.value);
            setPortInvalid(false);
            form.edited();
          }}
        />
        <p id={id + 'port-hint'} className="settings-hint">
          {t('port.hint')}
        </p>
      </div>

      <div className="settings-field">
        <label htmlFor={id + 'kdf'}>{t('kdfCost')}</label>
        <select
          id={id + 'kdf'}
          value={kdfCost}
          aria-describedby={id + 'kdf-hint'}
          onChange={(event) => {
            setKdfCost(event.target.value as KdfCost);
            form.edited();
          }}
        >
          {KDF_COSTS.map((cost) => (
            <option key={cost} value={cost}>
              {t(`kdfCost.${cost}`)}
            </option>
          ))}
        </select>
        <p id={id + 'kdf-hint'} className="settings-hint">
          {t('kdfCost.hint')}
        </p>
      </div>

      <div className="settings-field">
        <label htmlFor={id + 'log'}>{t('logLevel')}</label>
        <select
          id={id + 'log'}
          value={logLevel}
          aria-describedby={id + 'log-hint'}
          onChange={(event) => {
            setLogLevel(event.target.value as LogLevel);
            form.edited();
          }}
        >
          {LOG_LEVELS.map((level) => (
            <option key={level} value={level}>
              {t(`logLevel.${level}`)}
            </option>
          ))}
        </select>
        <p id={id + 'log-hint'} className="settings-hint">
          {t('logLevel.hint')}
        </p>
      </div>

      <dl className="settings-field settings-readonly">
        <dt id={id + 'data'}>{t('dataFolder')}</dt>
        <dd aria-labelledby={id + 'data'} aria-describedby={id + 'data-hint'}>
          <code>{settings.dataFolder}</code>
        </dd>
        <dd id={id + 'data-hint'} className="settings-hint">
          {t('dataFolder.hint')}
        </dd>
      </dl>

      <SaveRow saving={form.saving} saved={form.saved} error={form.saveError} />
    </form>
  );
}
