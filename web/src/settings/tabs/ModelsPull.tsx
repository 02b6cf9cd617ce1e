import { useEffect, useId, useRef, useState } from 'react';
import { modelsApi } from '../../chat/client.ts';
import type { PullState } from '../../chat/client.ts';
import { formatSize } from '../../i18n.ts';
import { messageOf } from '../settingsForm.tsx';
import { t } from './modelsStrings.ts';

/** Import a GGUF from a path on this device (a USB drive). */
export function ImportForm({ onImported }: { onImported: () => void }) {
  const id = useId();
  const [path, setPath] = useState('');
  const [name, setName] = useState('');
  const [busy, setBusy] = useState(false);
  const [status, setStatus] = useState('');
  const [error, setError] = useState<string | null>(null);

  async function submit() {
    if (path.trim() === '') return;
    setBusy(true);
    setStatus(t('import.busy'));
    setError(null);
    try {
      const { model } = await modelsApi.importGguf(path.trim(), name.trim());
      setStatus(t('import.done', { name: model.name }));
      setPath('');
      setName('');
      onImported();
    } catch (err) {
      setStatus('');
      setError(messageOf(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <section className="settings-section" aria-labelledby={id + 'h'}>
      <h3 id={id + 'h'}>{t('import.heading')}</h3>
      <p className="settings-hint">{t('import.hint')}</p>
      <form
        className="settings-form"
        onSubmit={(e) => {
          e.preventDefault();
          void submit();
        }}
      >
        <div className="settings-field">
          <label htmlFor={id + 'path'}>{t('import.path')}</label>
          <input id={id + 'path'} type="text" value={path} placeholder="/media/usb/model.gguf" spellCheck={false} autoComplete="off" onChange={(e) => setPath(e.target.value)} />
        </div>
        <div className="settings-field">
          <label htmlFor={id + 'name'}>{t('import.name')}</label>
          <input id={id + 'name'} type="text" value={name} maxLength={64} spellCheck={false} autoComplete="off" onChange={(e) => setName(e.target.value)} />
        </div>
        <div className="settings-save-row">
          <button type="submit" className="settings-button settings-primary" disabled={busy || path.trim() === ''}>
            {t('import.button')}
          </button>
          <p role="status" className="settings-status" aria-busy={busy}>
            {status}
          </p>
        </div>
        {error !== null && (
          <p role="alert" className="settings-error">
            {error}
          </p>
        )}
      </form>
    </section>
  );
}

type PullBody = { provider: 'ollama'; name: string } | { provider: 'embedded'; url: string; name?: string; sha256?: string };

interface Download {
  body: PullBody;
  label: string;
  pull?: string;
  status: string;
  completed?: number;
  total?: number;
  state: 'running' | 'paused' | 'failed';
  error?: string;
}

/** Download a model (Ollama by name, or a GGUF by address), with live progress, pause and cancel. */
export function PullForm({ onPulled }: { onPulled: () => void }) {
  const id = useId();
  const [source, setSource] = useState<'ollama' | 'embedded'>('ollama');
  const [name, setName] = useState('');
  const [url, setUrl] = useState('');
  const [sha, setSha] = useState('');
  const [download, setDownload] = useState<Download | null>(null);
  const [earlier, setEarlier] = useState<PullState[]>([]);
  const [notice, setNotice] = useState('');
  const controller = useRef<AbortController | null>(null);

  // Closing the tab's panel (the settings modal) pauses a download: its partial file is kept.
  useEffect(() => () => controller.current?.abort(), []);

  const loadEarlier = () => {
    modelsApi.pulls().then(
      ({ pulls }) => setEarlier(pulls.filter((p) => !p.active)),
      () => undefined,
    );
  };
  useEffect(loadEarlier, []);

  async function run(body: PullBody, label: string) {
    const ctl = new AbortController();
    controller.current = ctl;
    setNotice('');
    let current: Download = { body, label, status: '', state: 'running' };
    const show = (change: Partial<Download>) => {
      current = { ...current, ...change };
      setDownload(current);
    };
    show({});
    try {
      for await (const ev of modelsApi.pull(body, ctl.signal)) {
        if (ev.type === 'started') show({ pull: ev.pull });
        else if (ev.type === 'progress') show({ status: ev.status, completed: ev.completed, total: ev.total });
        else if (ev.type === 'done') {
          setDownload(null);
          setNotice(t('pull.done', { name: ev.model.name }));
          onPulled();
          return;
        }
      }
    } catch (err) {
      if (ctl.signal.aborted) show({ state: 'paused' });
      else show({ state: 'failed', error: messageOf(err) });
    } finally {
      if (controller.current === ctl) controller.current = null;
      loadEarlier();
    }
  }

  async function cancel(pull: string | undefined) {
    controller.current?.abort();
    controller.current = null;
    setDownload(null);
    if (pull !== undefined) await modelsApi.cancelPull(pull).catch(() => undefined);
    setNotice(t('pull.cancelled'));
    loadEarlier();
  }

  const d = download;
  const percent = d?.total ? Math.min(100, Math.round((100 * (d.completed ?? 0)) / d.total)) : undefined;
  return (
    <section className="settings-section" aria-labelledby={id + 'h'}>
      <h3 id={id + 'h'}>{t('pull.heading')}</h3>
      <p className="settings-hint">{t('pull.hint')}</p>
      <form
        className="settings-form"
        onSubmit={(e) => {
          e.preventDefault();
          if (d?.state === 'running') return;
          if (source === 'ollama' && name.trim() !== '') void run({ provider: 'ollama', name: name.trim() }, name.trim());
          if (source === 'embedded' && url.trim() !== '') {
            const body: PullBody = { provider: 'embedded', url: url.trim(), ...(name.trim() ? { name: name.trim() } : {}), ...(sha.trim() ? { sha256: sha.trim().toLowerCase() } : {}) };
            void run(body, name.trim() || url.trim().split('/').pop() || url.trim());
          }
        }}
      >
        <div className="settings-field">
          <label htmlFor={id + 'src'}>{t('pull.source')}</label>
          <select id={id + 'src'} value={source} onChange={(e) => setSource(e.target.value as 'ollama' | 'embedded')}>
            <option value="ollama">{t('pull.ollama')}</option>
            <option value="embedded">{t('pull.embedded')}</option>
          </select>
        </div>
        {source === 'embedded' && (
          <div className="settings-field">
            <label htmlFor={id + 'url'}>{t('pull.url')}</label>
            <input id={id + 'url'} type="url" value={url} spellCheck={false} autoComplete="off" onChange={(e) => setUrl(e.target.value)} />
          </div>
        )}
        <div className="settings-field">
          <label htmlFor={id + 'name'}>{source === 'ollama' ? t('pull.name') : t('import.name')}</label>
          <input id={id + 'name'} type="text" value={name} spellCheck={false} autoComplete="off" onChange={(e) => setName(e.target.value)} />
        </div>
        {source === 'embedded' && (
          <div className="settings-field">
            <label htmlFor={id + 'sha'}>{t('pull.sha')}</label>
            <input id={id + 'sha'} type="text" value={sha} maxLength={64} spellCheck={false} autoComplete="off" onChange={(e) => setSha(e.target.value)} />
          </div>
        )}
        <button type="submit" className="settings-button settings-primary" disabled={d?.state === 'running'}>
          {t('pull.button')}
        </button>
      </form>

      <p role="status" className="settings-status">
        {notice}
      </p>
      {d !== null && (
        <div className="models-pull">
          <p className="models-pull-name">{d.label}</p>
          <div
            className="progress"
            role="progressbar"
            aria-label={t('pull.progress', { name: d.label })}
            aria-valuemin={0}
            aria-valuemax={100}
            aria-valuenow={percent}
            aria-valuetext={d.state === 'paused' ? t('pull.paused') : undefined}
          >
            <div className="progress-bar" style={{ width: `${percent ?? 0}%` }} />
          </div>
          <p className="settings-hint">
            {d.state === 'paused'
              ? t('pull.paused')
              : d.total
                ? t('pull.status', { status: d.status, done: formatSize(d.completed ?? 0), total: formatSize(d.total) })
                : d.completed
                  ? t('pull.statusBytes', { status: d.status, done: formatSize(d.completed) })
                  : d.status}
          </p>
          {d.error !== undefined && (
            <p role="alert" className="settings-error">
              {d.error}
            </p>
          )}
          <div className="settings-save-row">
            {d.state === 'running' ? (
              <button type="button" className="settings-button" onClick={() => controller.current?.abort()}>
                {t('pause')}
              </button>
            ) : (
              <button type="button" className="settings-button" onClick={() => void run(d.body, d.label)}>
                {t('resume')}
              </button>
            )}
            <button type="button" className="settings-button" onClick={() => void cancel(d.pull)}>
              {t('pull.cancel')}
            </button>
          </div>
        </div>
      )}
      {earlier.length > 0 && d === null && (
        <>
          <h4>{t('pull.earlier')}</h4>
          <ul className="models-earlier">
            {earlier.map((p) => (
              <li key={p.pull}>
                {p.name} — {p.total ? `${formatSize(p.completed)} / ${formatSize(p.total)}` : formatSize(p.completed)}{' '}
                <button type="button" className="settings-button" aria-label={`${t('pull.cancel')}: ${p.name}`} onClick={() => void cancel(p.pull)}>
                  {t('pull.cancel')}
                </button>
              </li>
            ))}
          </ul>
        </>
      )}
    </section>
  );
}
