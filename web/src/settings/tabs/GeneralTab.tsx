import { useId, useState } from 'react';
import type { FormEvent } from 'react';
import { applyTheme, readTheme } from '../../theme.ts';
import type { Theme } from '../../theme.ts';
import { SaveRow, useSettings, wholeNumber } from '../settingsForm.tsx';
import { t } from '../strings.ts';

const THEMES: readonly Theme[] = ['light', 'dark', 'system'];

export default function GeneralTab() {
  const id = useId();
  const [theme, setTheme] = useState<Theme>(readTheme);
  const form = useSettings();
  const [minutes, setMinutes] = useState<string | null>(null);
  const [invalid, setInvalid] = useState(false);

  // The field starts as the server's value once that arrives; `null` means "not edited yet".
  const minutesText = minutes ?? (form.settings === null ? '' : String(form.settings.autoLockMinutes));

  function chooseTheme(next: Theme): void {
    setTheme(next);
    applyTheme(next);
  }

  function submit(event: FormEvent): void {
    event.preventDefault();
    const value = wholeNumber(minutesText);
    if (value === null || value < 1 || value > 1440) {
      setInvalid(true);
      form.fail(t('autoLock.invalid'));
      return;
    }
    setInvalid(false);
    void form.save({ autoLockMinutes: value });
  }

  return (
    <div className="settings-sections">
      <fieldset className="settings-fieldset" role="radiogroup" aria-labelledby={id + 'theme'} aria-describedby={id + 'theme-hint'}>
        <legend id={id + 'theme'}>{t('theme')}</legend>
        <div className="settings-radios">
          {THEMES.map((option) => (
            <label key={option} className="settings-radio">
              <input type="radio" name={id + 'theme'} value={option} checked={theme === option} onChange={() => chooseTheme(option)} />
              {t(`theme.${option}`)}
            </label>
          ))}
        </div>
        <p id={id + 'theme-hint'} className="settings-hint">
          {t('theme.hint')}
        </p>
      </fieldset>

      {form.loadError !== null ? (
        <p role="alert" className="settings-error">
          {form.loadError}
        </p>
      ) : form.settings === null ? (
        <p className="settings-loading">{t('loading')}</p>
      ) : (
        <form className="settings-form" noValidate onSubmit={submit}>
          <div className="settings-field">
            <label htmlFor={id + 'minutes'}>{t('autoLock')}</label>
            <input
              id={id + 'minutes'}
              type="number"
              inputMode="numeric"
              min={1}
              max={1440}
              step={1}
              required
              value={minutesText}
              aria-invalid={invalid}
              aria-describedby={id + 'minutes-hint'}
              onChange={(event) => {
                setMinutes(event.target.value);
                setInvalid(false);
                form.edited();
              }}
            />
            <p id={id + 'minutes-hint'} className="settings-hint">
              {t('autoLock.hint')}
            </p>
          </div>
          <SaveRow saving={form.saving} saved={form.saved} error={form.saveError} />
        </form>
      )}
    </div>
  );
}
