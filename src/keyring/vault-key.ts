import { hkdf } from '../crypto/index.ts';

let peek: (key: VaultKey) => Buffer;

/**
 * An unlocked vault's key material, and nothing else: the master key stays in a private field
 * (never enumerable, never logged, never serialised); domains derive their own keys from it
 * with a label of their own (`derive('elohim/v1 record seal')`), so no domain ever holds the
 * master key or another domain's key. `id` names the vault while it is open without saying
 * anything about its key.
 */
export class VaultKey {
  static {
    peek = (key) => {
      if (key.#destroyed) throw new Error('this vault key was destroyed (the vault is locked)');
      return Buffer.from(key.#master);
    };
  }

  readonly #master: Buffer;
  #destroyed = false;
  readonly #onDestroy: (() => void) | undefined;
  /** A stable, non-secret name for this vault while it is open (a one-way hash of the key). */
  readonly id: string;

  /** Takes ownership of `master` (the caller must not keep or zero it). */
  constructor(master: Buffer, onDestroy?: () => void) {
    if (master.length !== 32) throw new RangeError('a vault master key is 32 bytes');
    this.#master = master;
    this.#onDestroy = onDestroy;
    this.id = hkdf(master, Buffer.alloc(0), 'elohim/v1 open handle').toString('hex');
  }

  /** A 32-byte key for `label`. Throws once the key has been destroyed. */
  derive(label: string): Buffer {
    if (this.#destroyed) throw new Error('this vault key was destroyed (the vault is locked)');
    return hkdf(this.#master, Buffer.alloc(0), label);
  }

  get destroyed(): boolean {
    return this.#destroyed;
  }

  /** Zeroes the master key. Idempotent. */
  destroy(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    this.#master.fill(0);
    this.#onDestroy?.();
  }

  toJSON(): string {
    return '[VaultKey]';
  }
}

/**
 * A copy of the master key, for the keyring's own bookkeeping (sealing it into slots, recording
 * a decoy's key in its creator's records). Not exported from the keyring's face.
 */
export function masterOf(key: VaultKey): Buffer {
  return peek(key);
}
