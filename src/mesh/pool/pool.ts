/**
 * The connection pool: per paired device, open protocol streams lent out and taken back, so a
 * request does not pay for opening a stream (a yamux stream plus a multistream-select round
 * trip) every time. bench/mesh.ts measures what that saves.
 *
 * - acquire/release: a released stream goes back to its (device, protocol) idle list, unless it
 *   still holds unread messages or can no longer carry data (then it is closed).
 * - Health check: a stream idle for longer than `healthCheckAfterMs` is pinged in-band with a
 *   timeout before it is lent again; one that fails is closed and counted. A stream given back a
 *   moment ago is lent without a ping: back-to-back requests would otherwise pay a round trip
 *   each, which is the cost the pool exists to save.
 * - At most `maxPerPeer` streams per device (idle and in use, all protocols): past it, acquire
 *   waits for a release (or its signal).
 * - Idle streams older than `idleTimeoutMs` are closed by a background sweep.
 * - Opening retries with exponential backoff (a device that just reconnected, a dial that lost
 *   a race), `reconnect.attempts` times, never past the caller's signal.
 */
import { ElohimError, isElohimError } from '../../errors.ts';
import type { FramedChannel, MeshChannel } from '../node/channel.ts';
import type { PoolStats } from '../node/shapes.ts';

export type { PoolStats };

export interface PoolOptions {
  maxPerPeer: number;
  idleTimeoutMs: number;
  healthCheckAfterMs: number;
  healthTimeoutMs: number;
  sweepEveryMs: number;
  reconnect: { attempts: number; baseMs: number; maxMs: number };
}

export const DEFAULT_POOL_OPTIONS: PoolOptions = {
  maxPerPeer: 8,
  idleTimeoutMs: 30_000,
  healthCheckAfterMs: 1_000,
  healthTimeoutMs: 2_000,
  sweepEveryMs: 5_000,
  reconnect: { attempts: 4, baseMs: 100, maxMs: 2_000 },
};


/** A stream lent by the pool: give it back with release(), or destroy() it if it is mid-message. */
export interface MeshLease {
  readonly channel: MeshChannel;
  release(): void;
  destroy(): void;
}

export interface Pool {
  acquire(deviceId: string, protocol: string, opts?: { signal?: AbortSignal }): Promise<MeshLease>;
  stats(deviceId: string): PoolStats;
  /** a latency measured elsewhere (the device ping) */
  noteLatency(deviceId: string, ms: number): void;
  /** Closes every stream of a device (disconnected, unpaired). */
  dropPeer(deviceId: string): void;
  /** Closes everything and refuses new acquires. */
  close(): void;
}

interface Idle {
  channel: FramedChannel;
  since: number;
}

interface PeerState {
  idle: Map<string, Idle[]>;
  inUse: Set<FramedChannel>;
  waiters: Array<() => void>;
  stats: Omit<PoolStats, 'open' | 'idle' | 'inUse' | 'reuseRatio'>;
}

export function createPool(
  deps: { open(deviceId: string, protocol: string, signal: AbortSignal): Promise<FramedChannel>; now?: () => number },
  options: Partial<PoolOptions> = {},
): Pool {
  const opts = { ...DEFAULT_POOL_OPTIONS, ...options };
  const now = deps.now ?? (() => performance.now());
  const peers = new Map<string, PeerState>();
  const stopped = new AbortController();

  const stateOf = (deviceId: string): PeerState => {
    let s = peers.get(deviceId);
    if (s === undefined) {
      s = { idle: new Map(), inUse: new Set(), waiters: [], stats: { opened: 0, acquires: 0, reuses: 0, healthFailures: 0, waits: 0, latencyMs: null } };
      peers.set(deviceId, s);
    }
    return s;
  };
  const idleCount = (s: PeerState) => [...s.idle.values()].reduce((n, list) => n + list.length, 0);
  const openCount = (s: PeerState) => idleCount(s) + s.inUse.size;
  const wakeOne = (s: PeerState) => s.waiters.shift()?.();

  /** Closes the oldest idle stream of any protocol (to make room for another protocol's). */
  const evictOldestIdle = (s: PeerState): boolean => {
    let oldest: { proto: string; idx: number; since: number } | null = null;
    for (const [proto, list] of s.idle) list.forEach((it, idx) => (oldest === null || it.since < oldest.since ? (oldest = { proto, idx, since: it.since }) : null));
    if (oldest === null) return false;
    const { proto, idx } = oldest as { proto: string; idx: number };
    const [it] = s.idle.get(proto)!.splice(idx, 1);
    void it!.channel.close();
    return true;
  };

  const openWithBackoff = async (deviceId: string, protocol: string, signal: AbortSignal): Promise<FramedChannel> => {
    let delay = opts.reconnect.baseMs;
    for (let attempt = 1; ; attempt++) {
      try {
        return await deps.open(deviceId, protocol, signal);
      } catch (err) {
        signal.throwIfAborted();
        // Some failures will not get better by trying again.
        if (isElohimError(err) && err.code !== 'MESH_PEER_UNREACHABLE' && err.code !== 'MESH_STREAM_CLOSED') throw err;
        if (attempt >= opts.reconnect.attempts) throw err;
        await sleep(delay, signal);
        delay = Math.min(delay * 2, opts.reconnect.maxMs);
      }
    }
  };

  const lease = (deviceId: string, s: PeerState, channel: FramedChannel, protocol: string): MeshLease => {
    let done = false;
    s.inUse.add(channel);
    return {
      channel,
      release() {
        if (done) return;
        done = true;
        s.inUse.delete(channel);
        if (stopped.signal.aborted || !channel.usable() || channel.unread() > 0 || peers.get(deviceId) !== s) {
          void channel.close();
        } else {
          const list = s.idle.get(protocol) ?? [];
          list.push({ channel, since: now() });
          s.idle.set(protocol, list);
        }
        wakeOne(s);
      },
      destroy() {
        if (done) return;
        done = true;
        s.inUse.delete(channel);
        channel.abort('destroyed by its borrower');
        wakeOne(s);
      },
    };
  };

  const sweep = setInterval(() => {
    const t = now();
    for (const s of peers.values()) {
      for (const [proto, list] of s.idle) {
        const keep = list.filter((it) => {
          const stale = t - it.since > opts.idleTimeoutMs || !it.channel.usable();
          if (stale) void it.channel.close();
          return !stale;
        });
        s.idle.set(proto, keep);
      }
      if (s.waiters.length > 0) wakeOne(s);
    }
  }, opts.sweepEveryMs);
  sweep.unref();

  return {
    async acquire(deviceId, protocol, acquireOpts = {}) {
      const signal = acquireOpts.signal ? AbortSignal.any([acquireOpts.signal, stopped.signal]) : stopped.signal;
      signal.throwIfAborted();
      const s = stateOf(deviceId);
      s.stats.acquires++;
      for (;;) {
        signal.throwIfAborted();
        const list = s.idle.get(protocol) ?? [];
        // Most recently released first: the warmest stream, and the others age out.
        const it = list.pop();
        if (it !== undefined) {
          if (!it.channel.usable()) {
            s.stats.healthFailures++;
            void it.channel.close();
            continue;
          }
          if (now() - it.since > opts.healthCheckAfterMs) {
            s.inUse.add(it.channel); // counted while its ping is out
            try {
              s.stats.latencyMs = await it.channel.ping(opts.healthTimeoutMs, signal);
            } catch {
              s.inUse.delete(it.channel);
              it.channel.abort('failed its health check');
              wakeOne(s);
              // The caller gave up while the ping was out: the stream's health is unknown, so it
              // is closed but not counted, and the caller's abort is what it hears.
              signal.throwIfAborted();
              s.stats.healthFailures++;
              continue;
            }
            s.inUse.delete(it.channel);
          }
          s.stats.reuses++;
          return lease(deviceId, s, it.channel, protocol);
        }
        if (openCount(s) >= opts.maxPerPeer && !evictOldestIdle(s)) {
          s.stats.waits++;
          await new Promise<void>((resolve, reject) => {
            const onAbort = () => {
              s.waiters = s.waiters.filter((w) => w !== wake);
              reject(signal.reason);
            };
            const wake = () => {
              signal.removeEventListener('abort', onAbort);
              resolve();
            };
            s.waiters.push(wake);
            signal.addEventListener('abort', onAbort, { once: true });
          });
          continue;
        }
        // Reserve the slot while the stream opens, so parallel acquires respect the maximum.
        const placeholder = { usable: () => false } as FramedChannel;
        s.inUse.add(placeholder);
        try {
          const channel = await openWithBackoff(deviceId, protocol, signal);
          s.stats.opened++;
          return lease(deviceId, s, channel, protocol);
        } finally {
          s.inUse.delete(placeholder);
        }
      }
    },
    stats(deviceId) {
      const s = peers.get(deviceId);
      if (s === undefined) return { open: 0, idle: 0, inUse: 0, opened: 0, acquires: 0, reuses: 0, reuseRatio: 0, healthFailures: 0, waits: 0, latencyMs: null };
      const idle = idleCount(s);
      return { ...s.stats, open: idle + s.inUse.size, idle, inUse: s.inUse.size, reuseRatio: s.stats.acquires === 0 ? 0 : s.stats.reuses / s.stats.acquires };
    },
    noteLatency(deviceId, ms) {
      stateOf(deviceId).stats.latencyMs = ms;
    },
    dropPeer(deviceId) {
      const s = peers.get(deviceId);
      if (s === undefined) return;
      for (const list of s.idle.values()) for (const it of list) void it.channel.close();
      s.idle.clear();
      // streams in use are closed when given back (the state no longer matches)
      const fresh: PeerState = { idle: new Map(), inUse: new Set(), waiters: s.waiters, stats: s.stats };
      peers.set(deviceId, fresh);
      for (const w of fresh.waiters.splice(0)) w();
    },
    close() {
      stopped.abort(new ElohimError('MESH_OFF', 'the mesh stopped'));
      clearInterval(sweep);
      for (const s of peers.values()) {
        for (const list of s.idle.values()) for (const it of list) it.channel.abort('mesh stopped');
        for (const ch of s.inUse) ch.abort?.('mesh stopped');
      }
      peers.clear();
    },
  };
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
