import { useEffect, useState } from 'react';
import { api } from '../api.ts';
import type { Settings } from '../api.ts';
import { t } from './strings.ts';

/** A failure as the user should read it: the server's message, or the thrown error's. */
export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Parses a whole number typed into a field; null for anything else ("", "1.5", "1e3"). */
export function wholeNumber(text: string): number | null {
  return /^\s*\d{1,9}\s*$/.test(text) ? Number(text) : null;
}

type SettingsChange = Partial<Omit<Settings, 'dataFolder'>>;

/**
 * The server's settings, fetched when the tab that needs them first mounts. `save` sends only
 * the fields that differ from what the server last answered: the server rejects an empty
 * change, and a field another tab owns is never overwritten with a stale value.
 */
export function useSettings() {
  const [settings, setSettings] = useState<Settings | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [saving, setSaving] = useState(false);
  const [saved, setSaved] = useState(false);
  const [saveError, setSaveError] = useState<string | null>(null);

  useEffect(() => {
    let current = true;
    api.settings().then(
      (loaded) => current && setSettings(loaded),
      (err: unknown) => current && setLoadError(messageOf(err)),
    );
    return () => {
      current = false;
    };
  }, []);

  async function save(change: SettingsChange): Promise<void> {
    if (settings === null) return;
    const diff = Object.fromEntries(Object.entries(change).filter(([key, value]) => settings[key as keyof SettingsChange] !== value)) as SettingsChange;
    setSaveError(null);
    setSaved(false);
    if (Object.keys(diff).length === 0) {
      setSaved(true);
      return;
    }
    setSaving(true);
    try {
      setSettings(await api.updateSettings(diff));
      setSaved(true);
    } catch (err) {
      setSaveError(messageOf(err));
    } finally {
      setSaving(false);
    }
  }

  /** Clears "Saved" and the last error, once the user changes a field again. */
  function edited(): void {
    setSaved(false);
    setSaveError(null);
  }

  /** Shows a problem found before sending (client-side validation) where server errors go. */
  function fail(message: string): void {
    setSaved(false);
    setSaveError(message);
  }

  return { settings, loadError, saving, saved, saveError, save, edited, fail };
}

/**
 * The end of a settings form: Save, the "Saved" status (always in the page, so screen readers
 * announce the change) and the error, if any.
 */
export function SaveRow(props: { saving: boolean; saved: boolean; error: string | null }) {
  return (
    <>
      <div className="settings-save-row">
        <button type="submit" className="settings-button settings-primary" disabled={props.saving} aria-busy={props.saving}>
          {t('save')}
        </button>
        <p role="status" className="settings-status">
          {props.saving ? t('saving') : props.saved ? t('saved') : ''}
        </p>
      </div>
      {props.error !== null && (
        <p role="alert" className="settings-error">
          {props.error}
        </p>
      )}
    </>
  );
}
