import { useId, useState } from 'react';
import { ScreenHeading } from '../components/ScreenHeading.tsx';
import { t } from '../strings/setup.ts';
import type { SetupResult } from './Setup.tsx';

/**
 * Saves `text` as a file through an object URL: the codes never leave the browser, and nothing
 * but this page's memory holds them until the user chooses where the file goes.
 */
function downloadText(fileName: string, text: string): void {
  const url = URL.createObjectURL(new Blob([text], { type: 'text/plain;charset=utf-8' }));
  const link = document.createElement('a');
  link.href = url;
  link.download = fileName;
  document.body.append(link);
  link.click();
  link.remove();
  // The download has taken its copy by the next task; keeping the URL would keep the codes.
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

// A file or printed page names no vault: one found on its own must not reveal that a second
// vault exists, so the decoy's codes look exactly like anyone's only codes.
function fileText(codes: readonly string[]): string {
  return [t('fileTitle'), '', t('fileText'), '', ...codes.map((code, i) => String(i + 1).padStart(2, ' ') + '. ' + code), ''].join('\n');
}

function CodeList({ codes, label }: { codes: readonly string[]; label: string }) {
  return (
    <ol className="codes" aria-label={label}>
      {codes.map((code) => (
        <li key={code}>
          <code>{code}</code>
        </li>
      ))}
    </ol>
  );
}

/** Shows the recovery codes once, with download, print and the confirmation before Continue. */
export function RecoveryCodes({ result, onContinue }: { result: SetupResult; onContinue: () => Promise<void> }) {
  const [saved, setSaved] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const savedId = useId();
  const decoy = result.decoyRecoveryCodes;

  async function next() {
    if (busy) return;
    setBusy(true);
    setError(null);
    try {
      await onContinue();
    } catch (err) {
      setBusy(false);
      setError(t('continue.failed', { message: err instanceof Error ? err.message : String(err) }));
    }
  }

  return (
    <>
      <div className="card card-wide no-print">
        <ScreenHeading>{t('codesTitle')}</ScreenHeading>
        <p className="lead">{t('codesIntro')}</p>
        {decoy !== undefined && <h2 className="codes-caption">{t('codesCaption')}</h2>}
        <CodeList codes={result.recoveryCodes} label={t('codesList')} />
        {decoy !== undefined && (
          <>
            <h2 className="codes-caption">{t('decoyCodesCaption')}</h2>
            <p className="hint">{t('decoyCodesIntro')}</p>
            <CodeList codes={decoy} label={t('decoyCodesList')} />
          </>
        )}
        <div className="actions actions-start">
          <button type="button" className="button" onClick={() => downloadText(t('fileName'), fileText(result.recoveryCodes))}>
            {t('download')}
          </button>
          {decoy !== undefined && (
            <button type="button" className="button" onClick={() => downloadText(t('decoyFileName'), fileText(decoy))}>
              {t('downloadDecoy')}
            </button>
          )}
          <button type="button" className="button" onClick={() => window.print()}>
            {t('print')}
          </button>
        </div>
        <div className="field field-check">
          <input id={savedId} type="checkbox" checked={saved} onChange={(e) => setSaved(e.target.checked)} />
          <label htmlFor={savedId}>{t('saved')}</label>
        </div>
        {error !== null && (
          <p role="alert" className="alert">
            {error}
          </p>
        )}
        {busy && (
          <p className="hint" aria-live="polite">
            {t('unlocking')}
          </p>
        )}
        <div className="actions">
          <button type="button" className="button primary" disabled={!saved} onClick={next}>
            {t('continue')}
          </button>
        </div>
      </div>
      {/* Only the printer sees these: one page per vault, each titled the same neutral way. */}
      <div className="print-only">
        {[result.recoveryCodes, ...(decoy === undefined ? [] : [decoy])].map((codes, i) => (
          <section key={i} className="print-page">
            <h2>{t('fileTitle')}</h2>
            <p>{t('fileText')}</p>
            <ol className="codes">
              {codes.map((code) => (
                <li key={code}>
                  <code>{code}</code>
                </li>
              ))}
            </ol>
          </section>
        ))}
      </div>
    </>
  );
}
