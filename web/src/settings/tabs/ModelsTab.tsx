import { useEffect, useId, useState } from 'react';
import { chatApi, modelsApi } from '../../chat/client.ts';
import type { ModelDefaults, ProviderKind, ProviderModels, ProviderSettings } from '../../chat/client.ts';
import { messageOf } from '../settingsForm.tsx';
import { ModelTables } from './ModelsList.tsx';
import { ImportForm, PullForm } from './ModelsPull.tsx';
import { t } from './modelsStrings.ts';
import './models.css';

// Settings → Models, its own chunk: the provider, the models each provider has, the defaults,
// import and download. The list is fetched again after anything that changes it.

export default function ModelsTab() {
  const [providers, setProviders] = useState<ProviderModels[] | null>(null);
  const [defaults, setDefaults] = useState<ModelDefaults | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [reload, setReload] = useState(0);
  const refresh = () => setReload((n) => n + 1);

  useEffect(() => {
    let live = true;
    modelsApi.list().then(
      (list) => {
        if (!live) return;
        setProviders(list.providers);
        setDefaults(list.defaults);
        setError(null);
      },
      (err: unknown) => live && setError(messageOf(err)),
    );
    return () => {
      live = false;
    };
  }, [reload]);

  return (
    <div className="settings-sections">
      <p className="settings-hint">{t('hint')}</p>
      <ProviderSection onSaved={refresh} />
      <section className="settings-section" aria-labelledby="models-heading">
        <h3 id="models-heading">{t('models.heading')}</h3>
        {error !== null && (
          <p role="alert" className="settings-error">
            {error}
          </p>
        )}
        {providers === null && error === null && <p className="settings-loading">{t('loading')}</p>}
        {providers !== null && <ModelTables providers={providers} onChanged={refresh} />}
        <button type="button" className="settings-button" onClick={refresh}>
          {t('refresh')}
        </button>
      </section>
      {providers !== null && defaults !== null && <DefaultsSection providers={providers} defaults={defaults} onSaved={setDefaults} />}
      <ImportForm onImported={refresh} />
      <PullForm onPulled={refresh} />
    </div>
  );
}

/** Which provider the assistant uses, where it is, and the opt-in for one on another machine. */
function ProviderSection({ onSaved }: { onSaved: () => void }) {
  const id = useId();
  const [settings, setSettings] = useState<ProviderSettings | null>(null);
  const [kind, setKind] = useState<ProviderKind | ''>('');
  const [url, setUrl] = useState('');
  const [apiKey, setApiKey] = useState('');
  const [allowRemote, setAllowRemote] = useState(false);
  const [status, setStatus] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [saving, setSaving] = useState(false);

  const take = (s: ProviderSettings) => {
    setSettings(s);
    setKind(s.provider?.kind ?? '');
    setUrl(s.provider?.baseUrl ?? '');
    setAllowRemote(s.provider?.allowRemote ?? false);
  };

  useEffect(() => {
    let live = true;
    chatApi.provider().then(
      (s) => live && take(s),
      (err: unknown) => live && setError(messageOf(err)),
    );
    return () => {
      live = false;
    };
  }, []);

  async function save() {
    setSaving(true);
    setStatus('');
    setError(null);
    try {
      const provider = kind === '' ? null : { kind, ...(kind === 'embedded' ? {} : { baseUrl: url.trim(), allowRemote }), ...(apiKey !== '' ? { apiKey } : {}) };
      take(await chatApi.setProvider({ provider }));
      setApiKey('');
      setStatus(t('saved'));
      onSaved();
    } catch (err) {
      setError(messageOf(err));
    } finally {
      setSaving(false);
    }
  }

  if (settings === null) return error === null ? <p className="settings-loading">{t('loading')}</p> : <p role="alert" className="settings-error">{error}</p>;
  const now = settings.provider;
  return (
    <section className="settings-section" aria-labelledby={id + 'h'}>
      <h3 id={id + 'h'}>{t('provider.heading')}</h3>
      {now !== null && (
        <p className={now.local ? 'settings-hint' : 'settings-error'} role={now.local ? undefined : 'note'}>
          {now.kind === 'embedded' ? t('embeddedNow') : now.local ? t('localNow', { url: now.baseUrl ?? '' }) : t('remoteNow', { url: now.baseUrl ?? '' })}
        </p>
      )}
      <form
        className="settings-form"
        noValidate
        onSubmit={(e) => {
          e.preventDefault();
          void save();
        }}
      >
        <div className="settings-field">
          <label htmlFor={id + 'kind'}>{t('provider')}</label>
          <select id={id + 'kind'} value={kind} onChange={(e) => setKind(e.target.value as ProviderKind | '')}>
            <option value="">{t('provider.none')}</option>
            <option value="embedded">{t('provider.embedded')}</option>
            <option value="ollama">{t('provider.ollama')}</option>
            <option value="openai">{t('provider.openai')}</option>
          </select>
        </div>
        {(kind === 'ollama' || kind === 'openai') && (
          <>
            <div className="settings-field">
              <label htmlFor={id + 'url'}>{t('url')}</label>
              <input id={id + 'url'} type="url" value={url} placeholder={t(kind === 'ollama' ? 'url.ollama' : 'url.openai')} aria-describedby={id + 'url-hint'} onChange={(e) => setUrl(e.target.value)} spellCheck={false} />
              <p id={id + 'url-hint'} className="settings-hint">
                {t('url.hint')}
              </p>
            </div>
            {kind === 'openai' && (
              <div className="settings-field">
                <label htmlFor={id + 'key'}>{t('apiKey')}</label>
                <input id={id + 'key'} type="password" value={apiKey} autoComplete="off" onChange={(e) => setApiKey(e.target.value)} aria-describedby={settings.provider?.hasApiKey ? id + 'key-hint' : undefined} />
                {settings.provider?.hasApiKey === true && (
                  <p id={id + 'key-hint'} className="settings-hint">
                    {t('apiKey.kept')}
                  </p>
                )}
              </div>
            )}
            <div className="settings-field settings-check">
              <label>
                <input type="checkbox" checked={allowRemote} onChange={(e) => setAllowRemote(e.target.checked)} aria-describedby={id + 'remote-hint'} /> {t('allowRemote')}
              </label>
              <p id={id + 'remote-hint'} className="settings-hint">
                {t('allowRemote.hint')}
              </p>
            </div>
          </>
        )}
        <div className="settings-save-row">
          <button type="submit" className="settings-button settings-primary" disabled={saving}>
            {saving ? t('saving') : t('save')}
          </button>
          <p role="status" className="settings-status">
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

/** The default chat and embedding models, chosen from every provider's list. */
function DefaultsSection({ providers, defaults, onSaved }: { providers: ProviderModels[]; defaults: ModelDefaults; onSaved: (d: ModelDefaults) => void }) {
  const id = useId();
  const [chat, setChat] = useState(defaults.chat ?? '');
  const [embedding, setEmbedding] = useState(defaults.embedding ?? '');
  const [status, setStatus] = useState('');
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    setChat(defaults.chat ?? '');
    setEmbedding(defaults.embedding ?? '');
  }, [defaults]);

  const all = providers.flatMap((p) => p.models);
  // A model that says what it can do is offered where it fits; one that does not say, everywhere.
  const can = (caps: string[], what: string) => caps.length === 0 || caps.includes(what);
  const chatModels = all.filter((m) => can(m.capabilities, 'completion'));
  const embedModels = all.filter((m) => can(m.capabilities, 'embedding'));
  const label = (m: (typeof all)[number]) => `${m.name} (${t(`kind.${m.provider}`)})`;

  async function save() {
    setStatus('');
    setError(null);
    try {
      onSaved(await modelsApi.setDefaults({ chat: chat === '' ? null : chat, embedding: embedding === '' ? null : embedding }));
      setStatus(t('defaults.saved'));
    } catch (err) {
      setError(messageOf(err));
    }
  }

  return (
    <section className="settings-section" aria-labelledby={id + 'h'}>
      <h3 id={id + 'h'}>{t('defaults.heading')}</h3>
      <form
        className="settings-form"
        onSubmit={(e) => {
          e.preventDefault();
          void save();
        }}
      >
        <div className="settings-field">
          <label htmlFor={id + 'chat'}>{t('chatModel')}</label>
          <select id={id + 'chat'} value={chat} onChange={(e) => setChat(e.target.value)}>
            <option value="">{t('defaults.none')}</option>
            {chatModels.map((m) => (
              <option key={m.id} value={m.id}>
                {label(m)}
              </option>
            ))}
          </select>
        </div>
        <div className="settings-field">
          <label htmlFor={id + 'embed'}>{t('embeddingModel')}</label>
          <select id={id + 'embed'} value={embedding} aria-describedby={id + 'embed-hint'} onChange={(e) => setEmbedding(e.target.value)}>
            <option value="">{t('defaults.none')}</option>
            {embedModels.map((m) => (
              <option key={m.id} value={m.id}>
                {label(m)}
              </option>
            ))}
          </select>
          <p id={id + 'embed-hint'} className="settings-hint">
            {t('embedding.hint')}
          </p>
        </div>
        <div className="settings-save-row">
          <button type="submit" className="settings-button settings-primary">
            {t('save')}
          </button>
          <p role="status" className="settings-status">
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
