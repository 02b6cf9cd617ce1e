import { useEffect, useId, useState } from 'react';
import type { FormEvent } from 'react';
import { api } from '../../api.ts';
import { formatDate, formatSize } from '../../i18n.ts';
import { backupApi } from '../../backup/client.ts';
import type { Progress, Snapshot, TargetInfo } from '../../backup/client.ts';
import { ProgressLine } from '../../backup/ProgressLine.tsx';
import { t } from '../../backup/strings.ts';
import { Retention } from '../../backup/Retention.tsx';
import { TargetFields, useTargetFields } from '../../backup/TargetFields.tsx';
import { messageOf } from '../settingsForm.tsx';

// Settings → Cloud backup, its own chunk: targets (add, test, remove), Back up now with live
// progress, snapshots, verify, prune, restore into a new folder, retention, and the last proven
// restore of each target. Everything goes through workspace.backup on the server.

export default function BackupTab() {
  const [targets, setTargets] = useState<TargetInfo[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [reload, setReload] = useState(0);
  const refresh = () => setReload((n) => n + 1);
  // Only the vault behind a decoy learns it has one (a decoy's own answer is "none").
  const [behindDecoy, setBehindDecoy] = useState(false);
  useEffect(() => {
    let live = true;
    api.decoy().then((d) => live && setBehindDecoy(d.exists), () => undefined);
    return () => {
      live = false;
    };
  }, []);

  useEffect(() => {
    let live = true;
    backupApi.targets().then(
      (r) => live && (setTargets(r.targets), setError(null)),
      (err: unknown) => live && setError(messageOf(err)),
    );
    return () => {
      live = false;
    };
  }, [reload]);

  return (
    <div className="settings-sections">
      <p className="settings-hint">{t('hint')}</p>
      {behindDecoy && <p className="settings-hint">{t('decoyNote')}</p>}
      <section className="settings-section" aria-labelledby="backup-targets-heading">
        <h3 id="backup-targets-heading">{t('targets.heading')}</h3>
        {error !== null && (
          <p role="alert" className="settings-error">
            {error}
          </p>
        )}
        {targets === null && error === null && <p className="settings-loading">{t('loading')}</p>}
        {targets !== null && targets.length === 0 && <p>{t('targets.none')}</p>}
        {targets !== null && targets.length > 0 && (
          <ul aria-label={t('targets.list')} className="backup-targets">
            {targets.map((target) => (
              <TargetItem key={target.name} target={target} onChanged={refresh} />
            ))}
          </ul>
        )}
      </section>
      <AddTarget onAdded={refresh} />
    </div>
  );
}

function AddTarget({ onAdded }: { onAdded: () => void }) {
  const id = useId();
  const fields = useTargetFields();
  const [name, setName] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  async function submit(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await backupApi.addTarget(name.trim(), fields.toInput());
      setName('');
      fields.clear();
      onAdded();
    } catch (err) {
      setError(messageOf(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <section className="settings-section" aria-labelledby={id + 'h'}>
      <h3 id={id + 'h'}>{t('add.heading')}</h3>
      <form className="settings-form" noValidate onSubmit={submit}>
        <div className="settings-field">
          <label htmlFor={id + 'name'}>{t('name')}</label>
          <input id={id + 'name'} value={name} onChange={(e) => setName(e.target.value)} autoComplete="off" spellCheck={false} aria-describedby={id + 'name-hint'} />
          <p id={id + 'name-hint'} className="settings-hint">
            {t('name.hint')}
          </p>
        </div>
        <TargetFields fields={fields} />
        <p className="settings-hint">{t('sealed')}</p>
        {error !== null && (
          <p role="alert" className="settings-error">
            {error}
          </p>
        )}
        <button type="submit" className="settings-button" disabled={busy}>
          {busy ? t('adding') : t('add')}
        </button>
      </form>
    </section>
  );
}

/** One target: where it is, its last backup and proven restore, and what can be done with it. */
function TargetItem({ target, onChanged }: { target: TargetInfo; onChanged: () => void }) {
  const id = useId();
  const { name } = target;
  const [busy, setBusy] = useState(false);
  const [progress, setProgress] = useState<Progress | null>(null);
  const [message, setMessage] = useState<string | null>(null);
  const [problems, setProblems] = useState<string[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [snapshots, setSnapshots] = useState<Snapshot[] | null>(null);
  const [restorePath, setRestorePath] = useState('');

  async function run<T>(fn: () => Promise<T>, done: (r: T) => string) {
    setBusy(true);
    setError(null);
    setMessage(null);
    setProblems([]);
    try {
      setMessage(done(await fn()));
    } catch (err) {
      setError(messageOf(err));
    } finally {
      setBusy(false);
      setProgress(null);
    }
  }

  const proof = target.lastProof;
  return (
    <li className="backup-target" aria-labelledby={id + 'name'}>
      <h4 id={id + 'name'}>
        {name} <span className="settings-hint">{target.where}</span>
      </h4>
      <p>{target.lastBackup ? t('last', { date: formatDate(target.lastBackup.time) }) : t('never')}</p>
      <p>
        {proof === null
          ? t('proven.none')
          : proof.ok
            ? t('proven', { date: formatDate(proof.time), sampled: proof.sampled, bytes: formatSize(proof.bytes) })
            : t('proven.failed', { failures: proof.failures })}
      </p>
      <div className="settings-confirm-buttons">
        <button
          type="button"
          className="settings-button"
          disabled={busy}
          onClick={() =>
            run(
              () => backupApi.run(name, setProgress),
              (r) => {
                onChanged();
                return t('done', { snapshot: r.summary.snapshot, uploaded: r.summary.objects.uploaded, objects: r.summary.objects.total, sampled: r.proof.sampled });
              },
            )
          }
        >
          {t('backupNow', { name })}
        </button>
        <button type="button" className="settings-button" disabled={busy} onClick={() => run(() => backupApi.testTarget(name), (r) => t(`test.${r.repository}`))}>
          {t('test', { name })}
        </button>
        <button type="button" className="settings-button" disabled={busy} onClick={() => run(() => backupApi.snapshots(name), (r) => (setSnapshots(r.snapshots), ''))}>
          {t('snapshots', { name })}
        </button>
        {[false, true].map((readData) => (
          <button
            key={String(readData)}
            type="button"
            className="settings-button"
            disabled={busy}
            onClick={() =>
              run(
                () => backupApi.verify(name, readData),
                (r) => (r.ok ? t('verified', { snapshots: r.snapshots, packs: r.packs }) : (setProblems(r.problems), t('verify.problems', { n: r.problems.length }))),
              )
            }
          >
            {t(readData ? 'verifyData' : 'verify', { name })}
          </button>
        ))}
        <button type="button" className="settings-button" disabled={busy} onClick={() => run(() => backupApi.prune(name), (r) => t('pruned', { packs: r.packsDeleted + r.orphansDeleted, bytes: formatSize(r.bytesFreed) }))}>
          {t('prune', { name })}
        </button>
        <button
          type="button"
          className="settings-button"
          disabled={busy}
          onClick={() => {
            if (window.confirm(t('remove.confirm', { name }))) void run(() => backupApi.removeTarget(name), () => (onChanged(), ''));
          }}
        >
          {t('remove', { name })}
        </button>
      </div>
      {progress !== null && <ProgressLine progress={progress} />}
      {message && (
        <p role="status" className="settings-status">
          {message}
        </p>
      )}
      {problems.length > 0 && (
        <ul className="settings-error">
          {problems.map((p) => (
            <li key={p}>{p}</li>
          ))}
        </ul>
      )}
      {error !== null && (
        <p role="alert" className="settings-error">
          {error}
        </p>
      )}
      {snapshots !== null && (
        <table aria-label={t('snapshots', { name })}>
          <tbody>
            {snapshots.map((s) => (
              <tr key={s.name}>
                <td>{formatDate(s.time)}</td>
                <td>{s.full ? t('snapshot.full') : t('snapshot.delta')}</td>
                <td className="settings-hint">{s.name}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <Retention target={target} onSaved={onChanged} />
      <form
        className="settings-form"
        aria-label={t('restoreBeside', { name })}
        onSubmit={(e) => {
          e.preventDefault();
          void run(() => backupApi.restoreBeside(name, restorePath.trim(), setProgress), (r) => t('restored', { snapshot: r.snapshot, home: r.home }));
        }}
      >
        <div className="settings-field">
          <label htmlFor={id + 'restore'}>{t('restoreBeside.path')}</label>
          <input id={id + 'restore'} value={restorePath} onChange={(e) => setRestorePath(e.target.value)} spellCheck={false} aria-describedby={id + 'restore-hint'} />
          <p id={id + 'restore-hint'} className="settings-hint">
            {t('restoreBeside.hint')}
          </p>
        </div>
        <button type="submit" className="settings-button" disabled={busy || restorePath.trim() === ''}>
          {t('restoreBeside.go')}
        </button>
      </form>
    </li>
  );
}
