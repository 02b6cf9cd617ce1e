// The Devices screen (its own chunk): this device and its pairing code (text and QR), pairing with
// another device's code and comparing safety numbers, devices seen nearby, and paired devices with
// their online state, last seen, latency and stream pool; then the shared folders (SharesPanel).
import { useCallback, useEffect, useState } from 'react';
import type { FormEvent } from 'react';
import { ApiError } from '../api.ts';
import { ScreenHeading } from '../components/ScreenHeading.tsx';
import { meshApi } from './client.ts';
import type { MeshStatus, NearbyDevice, PairedDevice, ShownCode } from './client.ts';
import { QrCode } from './QrCode.tsx';
import { RenameForm } from './RenameForm.tsx';
import { SharesPanel } from './SharesPanel.tsx';
import { t } from './strings.ts';
import './devices.css';

const POLL_MS = 3_000;

const message = (err: unknown) => (err instanceof ApiError || err instanceof Error ? err.message : String(err));
const time = (ms: number) => new Date(ms).toLocaleTimeString();
const shortId = (id: string) => `…${id.slice(-8)}`;

export default function DevicesScreen({ active }: { active: boolean }) {
  const [status, setStatus] = useState<MeshStatus | null>(null);
  const [peers, setPeers] = useState<PairedDevice[]>([]);
  const [nearby, setNearby] = useState<NearbyDevice[]>([]);
  const [shown, setShown] = useState<ShownCode | null>(null);
  const [justPaired, setJustPaired] = useState<PairedDevice | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const refresh = useCallback(async () => {
    try {
      const s = await meshApi.status();
      setStatus(s);
      if (s.deviceId !== null) {
        setPeers(await meshApi.peers());
        setNearby(s.running ? await meshApi.nearby() : []);
      }
      if (!s.pairing.open) setShown(null);
    } catch (err) {
      setError(message(err));
    }
  }, []);

  useEffect(() => {
    if (!active) return;
    void refresh();
    const timer = setInterval(() => void refresh(), POLL_MS);
    return () => clearInterval(timer);
  }, [active, refresh]);

  /** Runs fn with the screen busy; an error is shown. Whether it succeeded. */
  const act = async (fn: () => Promise<unknown>): Promise<boolean> => {
    setBusy(true);
    setError(null);
    try {
      await fn();
      return true;
    } catch (err) {
      setError(message(err));
      return false;
    } finally {
      setBusy(false);
      await refresh();
    }
  };

  return (
    <section className="devices" aria-labelledby="main-heading">
      <ScreenHeading>{t('heading')}</ScreenHeading>
      <p className="muted">{t('intro')}</p>
      {error !== null && (
        <p role="alert" className="alert">
          {t('error', { message: error })}
        </p>
      )}
      {status !== null && !status.enabled && (
        <div className="devices-card">
          <h2>{t('offTitle')}</h2>
          <button type="button" className="button primary" disabled={busy} onClick={() => void act(() => meshApi.on())}>
            {busy ? t('turningOn') : t('turnOn')}
          </button>
        </div>
      )}
      {status !== null && status.enabled && (
        <>
          <ThisDevice status={status} busy={busy} onOff={() => void act(() => meshApi.off())} onRename={(name) => act(() => meshApi.settings({ name }))} />
          <div className="devices-card">
            <h2>{t('pairTitle')}</h2>
            {shown === null ? (
              <button type="button" className="button primary" disabled={busy || !status.running} onClick={() => void act(async () => setShown(await meshApi.showCode()))}>
                {t('showCode')}
              </button>
            ) : (
              <div className="pair-code">
                <QrCode text={shown.code} label={t('qrLabel')} />
                <div>
                  <p>{t('codeHelp', { time: time(shown.expires) })}</p>
                  <output className="code-text" aria-label={t('codeLabel')}>
                    {shown.code}
                  </output>
                  <p>
                    <button type="button" className="button" onClick={() => void act(async () => (await meshApi.withdrawCode(), setShown(null)))}>
                      {t('withdraw')}
                    </button>
                  </p>
                </div>
              </div>
            )}
            <PairForm disabled={busy || !status.running} onPair={(code) => void act(async () => setJustPaired(await meshApi.pair(code)))} />
            {justPaired !== null && (
              <div className="just-paired" role="status">
                <p>{t('pairedWith', { name: justPaired.name })}</p>
                <p>{t('compare')}</p>
                <p className="safety-number">{justPaired.safetyNumber}</p>
                <button type="button" className="button primary" onClick={() => void act(async () => (await meshApi.verify(justPaired.deviceId), setJustPaired(null)))}>
                  {t('match')}
                </button>{' '}
                <button type="button" className="button danger" onClick={() => void act(async () => (await meshApi.unpair(justPaired.deviceId, true), setJustPaired(null)))}>
                  {t('differ')}
                </button>
              </div>
            )}
          </div>
          <Nearby devices={nearby} />
          <Paired peers={peers} busy={busy} act={act} />
          <SharesPanel peers={peers} />
        </>
      )}
    </section>
  );
}

function ThisDevice({ status, busy, onOff, onRename }: { status: MeshStatus; busy: boolean; onOff: () => void; onRename: (name: string) => Promise<boolean> }) {
  const [renaming, setRenaming] = useState(false);
  return (
    <div className="devices-card">
      <h2>{t('thisDevice')}</h2>
      <dl className="device-facts">
        <dt>{t('name')}</dt>
        <dd>
          {!renaming ? (
            <>
              {status.name}{' '}
              <button type="button" className="button small" disabled={busy} onClick={() => setRenaming(true)}>
                {t('rename')}
              </button>
            </>
          ) : (
            <RenameForm
              id="device-name"
              initial={status.name ?? ''}
              maxLength={48}
              busy={busy}
              text={{ label: t('renameLabel'), help: t('renameHelp'), save: t('save'), cancel: t('cancel') }}
              onSave={onRename}
              onClose={() => setRenaming(false)}
            />
          )}
        </dd>
        <dt>{t('deviceId')}</dt>
        <dd className="mono">{status.deviceId}</dd>
        <dt>{t('listening')}</dt>
        <dd className="mono">{status.addresses.join(' ') || '—'}</dd>
        <dt>{t('discovery')}</dt>
        <dd>{status.settings.mdns ? t('discoveryOn') : t('discoveryOff')}</dd>
        <dt>{t('refused')}</dt>
        <dd>{status.gate.refused}</dd>
      </dl>
      {status.error !== null && <p className="muted">{status.error}</p>}
      <button type="button" className="button" disabled={busy} onClick={onOff}>
        {t('turnOff')}
      </button>
    </div>
  );
}

function PairForm({ disabled, onPair }: { disabled: boolean; onPair: (code: string) => void }) {
  const [code, setCode] = useState('');
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (code.trim() !== '') onPair(code.trim());
  };
  return (
    <form className="pair-form" onSubmit={submit}>
      <label htmlFor="pair-code">{t('enterCode')}</label>
      <input id="pair-code" type="text" className="mono" value={code} onChange={(e) => setCode(e.target.value)} autoComplete="off" spellCheck={false} maxLength={1200} />
      <button type="submit" className="button primary" disabled={disabled || code.trim() === ''}>
        {t('pair')}
      </button>
    </form>
  );
}

function Nearby({ devices }: { devices: NearbyDevice[] }) {
  return (
    <div className="devices-card">
      <h2>{t('nearbyTitle')}</h2>
      {devices.length === 0 ? (
        <p className="muted">{t('nearbyNone')}</p>
      ) : (
        <ul className="nearby">
          {devices.map((d) => (
            <li key={d.deviceId}>
              <span className="mono">{shortId(d.deviceId)}</span> · {d.paired ? t('paired') : t('notPaired')} · {time(d.lastSeen)}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

function Paired({ peers, busy, act }: { peers: PairedDevice[]; busy: boolean; act: (fn: () => Promise<unknown>) => Promise<unknown> }) {
  return (
    <div className="devices-card">
      <h2>{t('pairedTitle')}</h2>
      {peers.length === 0 && <p className="muted">{t('pairedNone')}</p>}
      <ul className="paired">
        {peers.map((p) => (
          <li key={p.deviceId} className="paired-device">
            <p>
              <strong>{p.name}</strong> <span className="mono">{shortId(p.deviceId)}</span>{' '}
              <span className={p.online ? 'badge online' : 'badge'}>{p.online ? t('online') : t('offline')}</span>{' '}
              <span className="badge">{p.verified ? t('verified') : t('unverified')}</span>
            </p>
            <dl className="device-facts">
              <dt>{t('lastSeen')}</dt>
              <dd>{p.lastSeen === null ? t('never') : new Date(p.lastSeen).toLocaleString()}</dd>
              <dt>{t('latency')}</dt>
              <dd>{p.latencyMs === null ? '—' : `${Math.round(p.latencyMs)} ms`}</dd>
              <dt>{t('pool')}</dt>
              <dd>
                {t('poolDetail', { open: p.pool.open, idle: p.pool.idle, inUse: p.pool.inUse, reuse: Math.round(p.pool.reuseRatio * 100), failures: p.pool.healthFailures })}
              </dd>
              <dt>{t('safety')}</dt>
              <dd className="safety-number">{p.safetyNumber}</dd>
            </dl>
            {!p.verified && (
              <button type="button" className="button small" disabled={busy} onClick={() => void act(() => meshApi.verify(p.deviceId))}>
                {t('verify')}
              </button>
            )}{' '}
            <button type="button" className="button small" disabled={busy} onClick={() => window.confirm(t('confirmUnpair', { name: p.name })) && void act(() => meshApi.unpair(p.deviceId, false))}>
              {t('unpair')}
            </button>{' '}
            <button type="button" className="button small danger" disabled={busy} onClick={() => window.confirm(t('confirmRevoke', { name: p.name })) && void act(() => meshApi.unpair(p.deviceId, true))}>
              {t('revoke')}
            </button>
          </li>
        ))}
      </ul>
    </div>
  );
}
