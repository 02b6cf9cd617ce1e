import { useId, useState } from 'react';
import type { TargetInput } from './client.ts';
import { t } from './strings.ts';

type Kind = 'local' | 's3' | 'webdav' | 'rclone';
const KINDS: readonly Kind[] = ['local', 's3', 'webdav', 'rclone'];

/** The fields of one target, by kind; `toInput` turns them into what the server takes (its address syntax). */
export function useTargetFields() {
  const [kind, setKind] = useState<Kind>('local');
  const [v, setV] = useState<Record<string, string>>({});
  const [pathStyle, setPathStyle] = useState(true);
  const set = (key: string) => (e: { target: { value: string } }) => setV((old) => ({ ...old, [key]: e.target.value }));
  const val = (key: string) => v[key] ?? '';

  function toInput(): TargetInput {
    const opt = (s: string) => (s.trim() === '' ? undefined : s.trim());
    switch (kind) {
      case 'local':
        return { address: val('folder').trim() };
      case 's3':
        return { address: `s3://${val('bucket').trim().replace(/^s3:\/\//, '')}`, endpoint: opt(val('endpoint')), region: opt(val('region')), pathStyle, accessKeyId: opt(val('accessKeyId')), secretAccessKey: val('secretAccessKey') || undefined };
      case 'webdav':
        return { address: `webdav+${val('webdavUrl').trim()}`, username: opt(val('user')), password: val('password') || undefined };
      case 'rclone':
        return { address: `rclone:${val('remote').trim()}`, rcloneConfig: val('rcloneConfig') || undefined };
    }
  }

  return { kind, setKind, set, val, pathStyle, setPathStyle, toInput, clear: () => setV({}) };
}

export function TargetFields({ fields }: { fields: ReturnType<typeof useTargetFields> }) {
  const id = useId();
  const { kind, set, val } = fields;
  const field = (key: Parameters<typeof t>[0], name: string, opts: { type?: string; hint?: Parameters<typeof t>[0]; textarea?: boolean; autoComplete?: string } = {}) => (
    <div className="settings-field field">
      <label htmlFor={id + name}>{t(key)}</label>
      {opts.textarea ? (
        <textarea id={id + name} value={val(name)} onChange={set(name)} rows={4} spellCheck={false} />
      ) : (
        <input id={id + name} type={opts.type ?? 'text'} value={val(name)} onChange={set(name)} autoComplete={opts.autoComplete ?? 'off'} spellCheck={false} aria-describedby={opts.hint ? id + name + 'hint' : undefined} />
      )}
      {opts.hint && (
        <p id={id + name + 'hint'} className="settings-hint hint">
          {t(opts.hint)}
        </p>
      )}
    </div>
  );
  return (
    <>
      <div className="settings-field field">
        <label htmlFor={id + 'kind'}>{t('kind')}</label>
        <select id={id + 'kind'} value={kind} onChange={(e) => fields.setKind(e.target.value as Kind)}>
          {KINDS.map((k) => (
            <option key={k} value={k}>
              {t(`kind.${k}`)}
            </option>
          ))}
        </select>
      </div>
      {kind === 'local' && field('folder', 'folder', { hint: 'folder.hint' })}
      {kind === 's3' && (
        <>
          {field('bucket', 'bucket', { hint: 'bucket.hint' })}
          {field('endpoint', 'endpoint', { hint: 'endpoint.hint' })}
          {field('region', 'region')}
          <label className="settings-radio field-check">
            <input type="checkbox" checked={fields.pathStyle} onChange={(e) => fields.setPathStyle(e.target.checked)} />
            {t('pathStyle')}
          </label>
          {field('accessKeyId', 'accessKeyId')}
          {field('secretAccessKey', 'secretAccessKey', { type: 'password', autoComplete: 'new-password' })}
        </>
      )}
      {kind === 'webdav' && (
        <>
          {field('webdavUrl', 'webdavUrl', { hint: 'webdavUrl.hint' })}
          {field('user', 'user')}
          {field('password', 'password', { type: 'password', autoComplete: 'new-password' })}
        </>
      )}
      {kind === 'rclone' && (
        <>
          {field('remote', 'remote', { hint: 'remote.hint' })}
          {field('rcloneConfig', 'rcloneConfig', { textarea: true })}
        </>
      )}
    </>
  );
}
