import { useId, useState } from 'react';
import { modelsApi } from '../../chat/client.ts';
import type { ModelEntry, ProviderModels } from '../../chat/client.ts';
import { Dialog } from '../../components/Dialog.tsx';
import { formatSize } from '../../i18n.ts';
import { messageOf } from '../settingsForm.tsx';
import { t } from './modelsStrings.ts';

/** One table per provider: name, size, family, quantisation, context length, and Delete. */
export function ModelTables({ providers, onChanged }: { providers: ProviderModels[]; onChanged: () => void }) {
  const id = useId();
  const [deleting, setDeleting] = useState<ModelEntry | null>(null);
  const [typed, setTyped] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [status, setStatus] = useState('');

  async function remove(model: ModelEntry) {
    setBusy(true);
    setError(null);
    try {
      await modelsApi.remove(model.id, typed);
      setDeleting(null);
      setStatus(t('deleted', { name: model.name }));
      onChanged();
    } catch (err) {
      setError(messageOf(err));
    } finally {
      setBusy(false);
    }
  }

  const dash = t('unknown');
  return (
    <>
      <p role="status" className="settings-status">
        {status}
      </p>
      {providers.map((p) => {
        const provider = t(`kind.${p.kind}`) + (p.kind === 'embedded' ? '' : ` — ${p.baseUrl}`);
        return (
          <div key={p.kind + p.baseUrl} className="models-provider">
            {p.error !== undefined && (
              <p role="alert" className="settings-error">
                {t('down', { provider, message: p.error.message })}
              </p>
            )}
            {p.error === undefined && p.models.length === 0 && (
              <p className="settings-hint">
                {provider}: {t('models.none')}
              </p>
            )}
            {p.models.length > 0 && (
              <table className="settings-audit-table models-table">
                <caption>
                  {t('models.caption', { provider })} <span className={p.local ? 'models-local' : 'models-remote'}>({p.local ? t('local') : t('remote')})</span>
                </caption>
                <thead>
                  <tr>
                    <th scope="col">{t('name')}</th>
                    <th scope="col">{t('size')}</th>
                    <th scope="col">{t('family')}</th>
                    <th scope="col">{t('quantization')}</th>
                    <th scope="col">{t('contextLength')}</th>
                    <th scope="col">
                      <span className="settings-visually-hidden">{t('actions')}</span>
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {p.models.map((m) => (
                    <tr key={m.id}>
                      <th scope="row">
                        {m.name}
                        {m.parameterSize !== undefined && <span className="settings-hint"> {m.parameterSize}</span>}
                      </th>
                      <td>{m.size === undefined ? dash : formatSize(m.size)}</td>
                      <td>{m.family ?? dash}</td>
                      <td>{m.quantization ?? dash}</td>
                      <td>{m.contextLength === undefined ? dash : t('tokens', { n: m.contextLength.toLocaleString('en-US') })}</td>
                      <td>
                        <button
                          type="button"
                          className="settings-button"
                          aria-label={t('delete', { name: m.name })}
                          onClick={() => {
                            setTyped('');
                            setError(null);
                            setDeleting(m);
                          }}
                        >
                          {t('delete.confirm')}
                        </button>
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          </div>
        );
      })}

      <Dialog title={t('delete.dialog')} open={deleting !== null} onClose={() => setDeleting(null)} className="settings-confirm">
        {deleting !== null && (
          <form
            onSubmit={(e) => {
              e.preventDefault();
              if (typed === deleting.name) void remove(deleting);
            }}
          >
            <p>{t('delete.text', { name: deleting.name, provider: t(`kind.${deleting.provider}`) })}</p>
            <div className="settings-field">
              <label htmlFor={id + 'confirm'}>{t('delete.type', { name: deleting.name })}</label>
              <input id={id + 'confirm'} type="text" value={typed} autoComplete="off" spellCheck={false} onChange={(e) => setTyped(e.target.value)} autoFocus />
            </div>
            {error !== null && (
              <p role="alert" className="settings-error">
                {error}
              </p>
            )}
            <div className="settings-confirm-buttons">
              <button type="button" className="settings-button" onClick={() => setDeleting(null)}>
                {t('cancel')}
              </button>
              <button type="submit" className="settings-button settings-danger" disabled={busy || typed !== deleting.name}>
                {t('delete.confirm')}
              </button>
            </div>
          </form>
        )}
      </Dialog>
    </>
  );
}
