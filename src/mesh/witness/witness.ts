/**
 * Witnessed audit checkpoints. An audit log can prove that nothing inside it was changed, but
 * not that it is the newest: a log restored from an old copy, or deleted whole, verifies. So
 * paired devices keep each other's signed head.
 *
 * Protocol `/elohim/witness/1`, one exchange each way: each side sends
 *   { mine: this device's head signed by it, yours: the newest head of the other's it keeps }.
 * `mine` is kept (by seq: an older head never replaces a newer one). `yours` comes back signed
 * by this device's own key, which only this vault derives, so a peer cannot invent one; it is
 * what the other device witnessed of this log, from outside this database. `check` then fails
 * when this log is older than a witnessed head (its seq is past our head), or differs from it
 * (our entry at that seq has another hash), and says which device saw it.
 *
 * A witness is kept in the sync store; it is checked against what the peer sends, not against
 * what this database remembers, since a restored database would remember the old state too.
 */
import type { AuditLog } from '../../audit/index.ts';
import { ElohimError } from '../../errors.ts';
import { canonical, tagOf, verifySignature } from '../shares/keys.ts';
import type { DeviceSigner } from '../shares/keys.ts';
import type { SyncStore } from '../shares/store.ts';
import { decodeMessage, encodeMessage } from '../sync/frame.ts';
import type { Channel } from '../sync/frame.ts';

export const WITNESS_PROTOCOL = '/elohim/witness/1';

export interface SignedHead {
  dev: string;
  seq: number;
  hash: string;
  at: number;
  sig: string;
}

export interface WitnessReport {
  ok: boolean;
  /** the newest head of this log a paired device witnessed */
  latest: { peer: string; name: string; seq: number; hash: string; at: number } | null;
  /** what is wrong, for people */
  problem?: string;
}

export function createWitness(deps: { audit: AuditLog; signer: DeviceSigner; store: SyncStore; clock: () => number; peerName: (peer: string) => string }) {
  const { audit, signer, store } = deps;

  function myHead(): SignedHead | null {
    const newest = audit.list({ limit: 1 }).entries[0];
    if (newest === undefined) return null;
    const body = { dev: signer.tag, seq: newest.seq, hash: newest.hash, at: deps.clock() };
    return { ...body, sig: signer.sign(canonical(body)) };
  }

  const kept = (peer: string, about: 'theirs' | 'mine') => store.witnesses().find((w) => w.peer === peer && w.about === about)?.head as SignedHead | undefined;

  function valid(head: unknown, signPub: string, dev: string): head is SignedHead {
    const h = head as SignedHead;
    if (h === null || typeof h !== 'object' || h.dev !== dev || !Number.isSafeInteger(h.seq) || h.seq < 1 || typeof h.hash !== 'string' || !/^[0-9a-f]{64}$/.test(h.hash)) return false;
    const { sig, ...body } = h;
    return typeof sig === 'string' && verifySignature(signPub, canonical(body), sig);
  }

  /** One exchange; `first`: this side speaks first (the one that opened the channel). */
  async function exchange(channel: Channel, peer: string, first: boolean, signal?: AbortSignal): Promise<void> {
    const card = store.cards.get(peer);
    if (card === undefined) return; // its signing key is learnt in a sync hello first
    const ours = { t: 'witness', mine: myHead(), yours: kept(peer, 'theirs') ?? null };
    const sendOurs = () => channel.send(encodeMessage({ head: ours }));
    if (first) await sendOurs();
    const raw = await channel.receive({ signal });
    if (raw === null) throw new ElohimError('MESH_STREAM_CLOSED');
    const m = decodeMessage(raw).head as { t: string; mine?: unknown; yours?: unknown };
    if (m.t !== 'witness') throw new ElohimError('SYNC_REJECTED', 'not a witness message');
    if (!first) await sendOurs();
    if (m.mine !== null && m.mine !== undefined) {
      if (!valid(m.mine, card.signPub, tagOf(card.signPub))) throw new ElohimError('SYNC_REJECTED', "the other device's audit head does not verify");
      const before = kept(peer, 'theirs');
      if (before !== undefined && before.seq > m.mine.seq) {
        // It went back: keep the newer one we saw, which its `check` will be told about.
      } else store.putWitness(peer, 'theirs', m.mine);
    }
    if (m.yours !== null && m.yours !== undefined) {
      if (!valid(m.yours, signer.publicKey, signer.tag)) throw new ElohimError('SYNC_REJECTED', 'a witnessed head of this device does not verify');
      store.putWitness(peer, 'mine', m.yours);
    }
  }

  /** Checks this log against every head of it a paired device witnessed. */
  function check(): WitnessReport {
    const verdict = audit.verify();
    const head = verdict.head ?? { seq: 0, hash: '' };
    let latest: WitnessReport['latest'] = null;
    for (const w of store.witnesses()) {
      if (w.about !== 'mine') continue;
      const h = w.head as SignedHead;
      if (latest === null || h.seq > latest.seq) latest = { peer: w.peer, name: deps.peerName(w.peer), seq: h.seq, hash: h.hash, at: h.at };
      if (h.seq > head.seq) {
        return { ok: false, latest, problem: `${deps.peerName(w.peer)} witnessed entry ${h.seq} of this log, which now ends at ${head.seq}: it is an older copy, or entries were removed` };
      }
      const entry = entryAt(h.seq);
      if (entry !== null && entry !== h.hash) {
        return { ok: false, latest, problem: `entry ${h.seq} of this log differs from what ${deps.peerName(w.peer)} witnessed: the log was replaced` };
      }
    }
    return { ok: true, latest };
  }

  /** The hash of this log's entry `seq`; null when retention removed it. */
  function entryAt(seq: number): string | null {
    const newest = audit.list({ limit: 1 }).entries[0];
    if (newest === undefined) return null;
    const offset = newest.seq - seq;
    if (offset < 0) return null;
    const found = audit.list({ limit: 1, offset }).entries[0];
    return found?.seq === seq ? found.hash : null;
  }

  return { exchange, check, myHead };
}

export type Witness = ReturnType<typeof createWitness>;
