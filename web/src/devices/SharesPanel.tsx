// The shared folders of MagnetarMesh on the Devices screen (src/server/routes/mesh-sync.ts):
// shares with their members, "Sync now" with its progress (Server-Sent Events), conflicts to
// resolve (keep both / keep mine / keep theirs), renaming a share (its owner), leaving a share
// (a member), and sharing a folder with paired devices.
import { useCallback, useEffect, useState } from 'react';
import { API, apiPath } from '../../../src/server/protocol.ts';
import { request, streamEvents } from '../api.ts';
import { makeT } from '../i18n.ts';
import type { PairedDevice } from './client.ts';
import { RenameForm } from './RenameForm.tsx';

const t = makeT({
  title: 'Shared folders',
  none: 'No folder is shared yet.',
  folder: 'Vault folder',
  with: 'Share with',
  readOnly: 'They may only read it',
  share: 'Share',
  syncNow: 'Sync now',
  syncing: 'Syncing… {objects} of {total} files, {mib} MiB',
  synced: 'Synced: {changed} files updated here.',
  syncFailed: 'Not synced with {peer}: {message} ({code})',
  members: 'Members',
  files: '{n} files',
  pending: '{n} waiting for their contents',
  conflicts: 'Conflicts',
  keepBoth: 'Keep both',
  keepMine: 'Keep mine',
  keepTheirs: 'Keep theirs',
  remove: 'Remove',
  removeNote: 'A removed device gets nothing new (the share key changes), but keeps what it already had.',
  mine: 'this device',
  readOnlyRole: 'read only',
  rename: 'Rename',
  renameLabel: 'Share name',
  renameHelp: 'Members see the new name at their next sync; their folder of it follows.',
  save: 'Save',
  cancel: 'Cancel',
  removed: 'This device was removed from this share: what it had stays here; nothing new comes or goes.',
  leave: 'Leave',
  leaveNote: 'Stop syncing this share. What this device has stays here; nothing new comes or goes.',
  leaveConfirm: 'Leave {name}? What this device has stays here; nothing new comes or goes. The device that shared it takes this one out at your next sync with it.',
  leaveYes: 'Leave share',
  left: 'This device left this share: what it had stays here; nothing new comes or goes. The device that shared it takes this one out at your next sync with it.',
  leftSeen: 'This device left this share: what it had stays here; nothing new comes or goes. The device that shared it has taken this one out.',
  paused: 'Paused on this device: its folder is in the trash. Restore it (or make a folder at {folder}) to resume; the other devices are not affected.',
});

interface Share {
  id: string;
  name: string;
  folder: string;
  role: 'owner' | 'rw' | 'ro';
  epoch: number;
  members: { deviceId: string; name: string; role: string }[];
  files: number;
  conflicts: number;
  pending: number;
  paused: boolean;
  /** this device was removed from the share (it keeps what it had) */
  removed: boolean;
  /** this device left the share (it keeps what it had); `removed` is then false */
  left: boolean;
  /** it left, and the owner has taken it out since */
  leaveSeen: boolean;
}

interface Conflict {
  entry: string;
  versions: { version: string; device: string; mine: boolean; path: string; at: number; size: number }[];
}

const sharesApi = {
  list: async () => (await request<{ shares: Share[] }>('GET', API.meshShares)).shares,
  create: (path: string, withDevices: string[], readOnly: boolean) => request<Share>('POST', API.meshShares, { path, with: withDevices, readOnly }),
  conflicts: async (id: string) => (await request<{ conflicts: Conflict[] }>('GET', apiPath(API.meshShareConflicts, id))).conflicts,
  resolve: (id: string, entry: string, choice: 'both' | 'mine' | 'theirs') => request<Share>('POST', apiPath(API.meshShareResolve, id), { entry, choice }),
  remove: (id: string, device: string) => request<Share>('POST', apiPath(API.meshShareRemove, id), { device }),
  rename: (id: string, name: string) => request<Share>('POST', apiPath(API.meshShareRename, id), { name }),
  leave: (id: string) => request<Share>('POST', apiPath(API.meshShareLeave, id)),
};

/** A member's Leave, confirmed inline (it cannot be undone from this device). */
function LeaveShare({ share, busy, onLeave }: { share: Share; busy: boolean; onLeave: () => Promise<boolean> }) {
  const [asking, setAsking] = useState(false);
  if (!asking) {
    return (
      <button type="button" className="button danger" title={t('leaveNote')} disabled={busy} onClick={() => setAsking(true)}>
        {t('leave')}
      </button>
    );
  }
  return (
    <div role="group" aria-label={t('leave')}>
      <p>{t('leaveConfirm', { name: share.name })}</p>
      <button type="button" className="button danger" disabled={busy} onClick={() => void onLeave().then((ok) => ok && setAsking(false))}>
        {t('leaveYes')}
      </button>
      <button type="button" className="button" disabled={busy} onClick={() => setAsking(false)}>
        {t('cancel')}
      </button>
    </div>
  );
}

/** The owner's Rename: an inline form; the server checks the name (the vault's name rule). */
function RenameShare({ share, busy, onRename }: { share: Share; busy: boolean; onRename: (name: string) => Promise<boolean> }) {
  const [renaming, setRenaming] = useState(false);
  if (!renaming) {
    return (
      <button type="button" className="button small" disabled={busy} onClick={() => setRenaming(true)}>
        {t('rename')}
      </button>
    );
  }
  const text = { label: t('renameLabel'), help: t('renameHelp'), save: t('save'), cancel: t('cancel') };
  return <RenameForm id={`share-name-${share.id}`} initial={share.name} maxLength={255} busy={busy} text={text} onSave={onRename} onClose={() => setRenaming(false)} />;
}

export function SharesPanel({ peers }: { peers: PairedDevice[] }) {
  const [shares, setShares] = useState<Share[]>([]);
  const [conflicts, setConflicts] = useState<Record<string, Conflict[]>>({});
  const [status, setStatus] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [path, setPath] = useState('');
  const [chosen, setChosen] = useState<string[]>([]);
  const [readOnly, setReadOnly] = useState(false);

  const refresh = useCallback(async () => {
    const list = await sharesApi.list();
    setShares(list);
    const found: Record<string, Conflict[]> = {};
    for (const s of list) if (s.conflicts > 0) found[s.id] = await sharesApi.conflicts(s.id);
    setConflicts(found);
  }, []);

  useEffect(() => {
    refresh().catch((e: Error) => setError(e.message));
  }, [refresh]);

  const act = async (fn: () => Promise<unknown>): Promise<boolean> => {
    setBusy(true);
    setError(null);
    try {
      await fn();
      await refresh();
      return true;
    } catch (e) {
      setError((e as Error).message);
      return false;
    } finally {
      setBusy(false);
    }
  };

  const syncNow = () =>
    act(async () => {
      // The last sync's "Synced" must not stand for this one while it starts.
      setStatus(null);
      try {
        for await (const { event, data } of streamEvents(API.meshSync, {}) as AsyncIterable<{ event: string; data: any }>) {
          if (event === 'progress') setStatus(t('syncing', { objects: data.progress.objects, total: data.progress.totalObjects, mib: (data.progress.bytes / 1048576).toFixed(1) }));
          else if (event === 'peer-failed') setError(t('syncFailed', { peer: data.peer.slice(0, 12), message: data.message, code: data.code }));
          else if (event === 'done') setStatus(t('synced', { changed: data.changed }));
        }
      } catch (e) {
        // A sync that failed part way may still have changed shares: the list is refreshed anyway.
        setError((e as Error).message);
      }
    });

  return (
    <div className="devices-card shares">
      <h2>{t('title')}</h2>
      {error && (
        <p role="alert" className="alert">
          {error}
        </p>
      )}
      <button type="button" className="button primary" disabled={busy} onClick={() => void syncNow()}>
        {t('syncNow')}
      </button>
      {status && <p role="status">{status}</p>}
      {shares.length === 0 && <p className="muted">{t('none')}</p>}
      {shares.map((s) => (
        <section key={s.id} className="share" aria-label={s.name}>
          <h3>
            {s.name} <span className="muted mono">{s.folder}</span>
          </h3>
          {s.role === 'owner' && <RenameShare share={s} busy={busy} onRename={(name) => act(() => sharesApi.rename(s.id, name))} />}
          {s.role !== 'owner' && !s.removed && !s.left && <LeaveShare share={s} busy={busy} onLeave={() => act(() => sharesApi.leave(s.id))} />}
          {s.removed && <p className="muted">{t('removed')}</p>}
          {s.left && <p className="muted">{t(s.leaveSeen ? 'leftSeen' : 'left')}</p>}
          {s.paused && !s.removed && !s.left && <p className="muted">{t('paused', { folder: s.folder })}</p>}
          <p className="muted">
            {t('files', { n: s.files })}
            {s.pending > 0 && ` · ${t('pending', { n: s.pending })}`}
          </p>
          <h4>{t('members')}</h4>
          <ul>
            {s.members.map((m) => (
              <li key={m.deviceId}>
                {m.name} {m.role === 'ro' && <span className="muted">({t('readOnlyRole')})</span>}
                {s.role === 'owner' && m.role !== 'owner' && (
                  <button type="button" className="button danger" title={t('removeNote')} disabled={busy} onClick={() => void act(() => sharesApi.remove(s.id, m.deviceId))}>
                    {t('remove')}
                  </button>
                )}
              </li>
            ))}
          </ul>
          {(conflicts[s.id] ?? []).length > 0 && (
            <>
              <h4>{t('conflicts')}</h4>
              <ul className="conflicts">
                {conflicts[s.id]!.map((c) => (
                  <li key={c.entry}>
                    {c.versions.map((v) => (
                      <div key={v.version}>
                        <span className="mono">{v.path}</span> — {v.mine ? t('mine') : v.device}, {new Date(v.at).toLocaleString()}
                      </div>
                    ))}
                    <button type="button" className="button" disabled={busy} onClick={() => void act(() => sharesApi.resolve(s.id, c.entry, 'both'))}>
                      {t('keepBoth')}
                    </button>
                    <button type="button" className="button" disabled={busy || !c.versions.some((v) => v.mine)} onClick={() => void act(() => sharesApi.resolve(s.id, c.entry, 'mine'))}>
                      {t('keepMine')}
                    </button>
                    <button type="button" className="button" disabled={busy || !c.versions.some((v) => !v.mine)} onClick={() => void act(() => sharesApi.resolve(s.id, c.entry, 'theirs'))}>
                      {t('keepTheirs')}
                    </button>
                  </li>
                ))}
              </ul>
            </>
          )}
        </section>
      ))}
      {peers.length > 0 && (
        <form
          className="share-form"
          onSubmit={(e) => {
            e.preventDefault();
            void act(async () => {
              await sharesApi.create(path, chosen, readOnly);
              setPath('');
              setChosen([]);
            });
          }}
        >
          <label>
            {t('folder')} <input value={path} placeholder="/Team" onChange={(e) => setPath(e.target.value)} required />
          </label>
          <fieldset>
            <legend>{t('with')}</legend>
            {peers.map((p) => (
              <label key={p.deviceId}>
                <input type="checkbox" checked={chosen.includes(p.deviceId)} onChange={(e) => setChosen(e.target.checked ? [...chosen, p.deviceId] : chosen.filter((x) => x !== p.deviceId))} /> {p.name}
              </label>
            ))}
          </fieldset>
          <label>
            <input type="checkbox" checked={readOnly} onChange={(e) => setReadOnly(e.target.checked)} /> {t('readOnly')}
          </label>
          <button type="submit" className="button primary" disabled={busy || path === '' || chosen.length === 0}>
            {t('share')}
          </button>
        </form>
      )}
    </div>
  );
}
