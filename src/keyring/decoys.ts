import { randomBytes, randomInt } from 'node:crypto';
import type { SealKey } from '../crypto/index.ts';
import type { Database, RecordKeys } from '../db/index.ts';
import { ElohimError } from '../errors.ts';
import { ownSlots, slotBookOf, slotsAt, SLOTS_PER_VAULT, vaultRecordKeys } from './bookkeeping.ts';
import type { SlotBookV1 } from './bookkeeping.ts';
import { findPassphraseSlot, passphraseKey, SLOT_COUNT, SLOT_SIZE } from './keyslots.ts';
import type { KeySlots } from './keyslots.ts';
import type { OnCreated, SlotFile, WaitOptions } from './slot-file.ts';
import { masterOf, VaultKey } from './vault-key.ts';

/**
 * Decoys: whether a vault has one, adding one (at set-up it is keyring.init's), removing one.
 * Version-2 folders keep vaults at fixed positions (bookkeeping.ts says why); version-1 folders
 * keep the old rules (slots anywhere, a list of reserved slots, chains of decoys), so that
 * folders made before still work.
 */
export function createDecoys(file: SlotFile, deps: { db: (keys: RecordKeys) => Database; clock: () => number }) {
  const { exclusive, readSlots, writeSlots, requireBook, settle, newPassphraseKey, sealInto, createVaultAt, throttle } = file;
  const { clock } = deps;

  /** Picks `count` random free slots, avoiding `taken`. */
  function pickSlots(taken: Set<number>, count: number): number[] {
    const free = Array.from({ length: SLOT_COUNT }, (_, i) => i).filter((i) => !taken.has(i));
    if (free.length < count) throw new ElohimError('VAULT_NO_FREE_SLOT');
    for (let i = free.length - 1; i > 0; i--) {
      const j = randomInt(i + 1);
      [free[i], free[j]] = [free[j]!, free[i]!];
    }
    return free.slice(0, count);
  }

  /** A version-1 folder's new vault, in free slots: the slots its creator knew were taken are reserved for good. */
  function createVaultIn(ks: KeySlots, passKey: SealKey, taken: Set<number>) {
    const indices = pickSlots(taken, SLOTS_PER_VAULT);
    const master = randomBytes(32);
    const codes = sealInto(ks, master, passKey, indices);
    const book: SlotBookV1 = {
      t: 'meta',
      passphraseSlot: indices[0]!,
      recoverySlots: indices.slice(1),
      reservedSlots: [...taken].sort((a, b) => a - b),
      hasCompanion: false,
      created: clock(),
    };
    return { master, codes, book };
  }

  /** Every slot a version-1 vault knows is in use: its own and those it reserved. */
  const slotsOf = (book: SlotBookV1) => new Set([...ownSlots(book), ...book.reservedSlots]);

  /** addDecoy in a version-1 folder: the old rule, a decoy in free slots this vault knows of. */
  async function addDecoyV1(book: SlotBookV1, store: ReturnType<SlotFile['bookOf']>, passphrase: string, onCreated: OnCreated, opts: WaitOptions) {
    if (book.hasCompanion) throw new ElohimError('INVALID_INPUT', 'this vault already has a decoy');
    const current = await readSlots();
    const companion = createVaultIn(current, await newPassphraseKey(current, passphrase, null, opts), slotsOf(book));
    await settle(companion, onCreated);
    store.write({
      ...book,
      hasCompanion: true,
      companion: { master: companion.master.toString('hex'), slots: ownSlots(companion.book) },
      reservedSlots: [...book.reservedSlots, ...ownSlots(companion.book)].sort((a, b) => a - b),
    });
    await writeSlots(current);
    companion.master.fill(0);
    return { recoveryCodes: companion.codes };
  }

  return {
    /** Whether this vault has created a decoy vault. */
    hasDecoy(key: VaultKey): boolean {
      const { book } = requireBook(key);
      return book.v === 2 ? book.companion !== undefined : book.hasCompanion;
    },

    /**
     * Creates a decoy vault opened by `passphrase`; returns its recovery codes. The decoy always
     * lands at position 1, dated from the folder's set-up, so a decoy added later leaves the same
     * traces as one made at set-up:
     * - from a vault at position 0 (set up behind a decoy, its decoy since removed): position 1
     *   is free, and this vault knows it;
     * - from a vault at position 1 (the front vault): this vault moves to position 0, behind the
     *   new decoy, re-sealed under `currentPassphrase` with ten new recovery codes (returned as
     *   `ownRecoveryCodes`; the old ones stop working). A front vault cannot know whether a vault
     *   already stands at position 0 (nothing may tell it: an examiner holding its passphrase
     *   would learn it too), so if this vault is itself a decoy, the vault behind it is destroyed.
     *   The faces warn and ask for confirmation.
     * Throws INVALID_INPUT (already has a decoy; a passphrase in use; the move without the
     * current passphrase), VAULT_WRONG_SECRET (`currentPassphrase` is not this vault's).
     */
    addDecoy(
      key: VaultKey,
      passphrase: string,
      onCreated: OnCreated,
      opts: WaitOptions & { currentPassphrase?: string } = {},
    ): Promise<{ recoveryCodes: string[]; ownRecoveryCodes?: string[] }> {
      return exclusive(async () => {
        const { book, store } = requireBook(key);
        if (book.v !== 2) return addDecoyV1(book, store, passphrase, onCreated, opts);
        if (book.companion !== undefined) throw new ElohimError('INVALID_INPUT', 'this vault already has a decoy');
        const current = await readSlots();
        if (book.position === 0) {
          const decoy = createVaultAt(current, await newPassphraseKey(current, passphrase, null, opts), 1, book.created);
          await settle(decoy, onCreated);
          store.write({ ...book, companion: { master: decoy.master.toString('hex') } });
          await writeSlots(current);
          decoy.master.fill(0);
          return { recoveryCodes: decoy.codes };
        }
        if (opts.currentPassphrase === undefined) {
          throw new ElohimError('INVALID_INPUT', 'adding a decoy moves this vault behind it: give this vault’s passphrase (a recovery code cannot re-seal it)');
        }
        const front = slotsAt(1);
        const own = await findPassphraseSlot(current, opts.currentPassphrase);
        if (own.found === null || own.found.index !== front[0]) {
          await throttle.fail();
          throw new ElohimError('VAULT_WRONG_SECRET', 'that is not this vault’s passphrase');
        }
        const decoyKey = await newPassphraseKey(current, passphrase, null, opts);
        const master = masterOf(key);
        const ownCodes = sealInto(current, master, await passphraseKey(current, opts.currentPassphrase), slotsAt(0));
        master.fill(0);
        const decoy = createVaultAt(current, decoyKey, 1, book.created);
        await settle(decoy, onCreated);
        // The book first, the slots last: a crash in between leaves this vault opening from
        // position 1 as before, with a book that already says 0 (a passphrase change then seals
        // slot 0 too), never a book that points at the decoy's slots.
        store.write({ t: 'meta', v: 2, position: 0, companion: { master: decoy.master.toString('hex') }, created: book.created });
        await writeSlots(current);
        decoy.master.fill(0);
        return { recoveryCodes: decoy.codes, ownRecoveryCodes: ownCodes };
      });
    },

    /**
     * Destroys this vault's decoy (and, in a version-1 folder, any decoy that one made in turn):
     * key slots overwritten with random bytes first, then `wipe` deletes each one's records and
     * objects. Throws DECOY_NOT_FOUND when there is none, VAULT_BUSY while one is open in this
     * process.
     */
    removeDecoy(key: VaultKey, wipe: (key: VaultKey) => Promise<void>): Promise<void> {
      return exclusive(async () => {
        const { book, store } = requireBook(key);
        const hasOne = book.v === 2 ? book.companion !== undefined : book.hasCompanion;
        if (!hasOne) throw new ElohimError('DECOY_NOT_FOUND');
        if (book.companion === undefined) {
          throw new ElohimError('INVALID_INPUT', 'this decoy vault was made by an earlier version and cannot be removed; shredding removes every vault');
        }
        // A version-1 decoy may have made a decoy of its own, and so on: walk the chain first,
        // since a vault left behind would sit in slots that this vault no longer reserves.
        const chain: { key: VaultKey; slots: number[] }[] = [];
        try {
          let next: { master: string; slots?: number[] } | undefined = book.companion;
          while (next !== undefined) {
            const companionKey = new VaultKey(Buffer.from(next.master, 'hex'));
            chain.push({ key: companionKey, slots: next.slots ?? slotsAt(1) });
            if (file.isLive(companionKey.id)) throw new ElohimError('VAULT_BUSY', 'the decoy vault is unlocked in another session; lock it first');
            const companionKeys = vaultRecordKeys((l) => companionKey.derive(l));
            const theirs = slotBookOf(deps.db(companionKeys), companionKeys).read();
            next = theirs?.v === 2 ? undefined : theirs?.companion;
          }
          const doomed = new Set(chain.flatMap((c) => c.slots));
          // Slots first: once they are random the decoy can never be opened, whatever happens next.
          const current = await readSlots();
          for (const index of doomed) current.slots[index] = randomBytes(SLOT_SIZE);
          await writeSlots(current);
          for (const c of [...chain].reverse()) await wipe(c.key);
          if (book.v === 2) {
            const { companion: _gone, ...rest } = book;
            store.write(rest);
          } else {
            const { companion: _gone, ...rest } = book;
            store.write({ ...rest, hasCompanion: false, reservedSlots: book.reservedSlots.filter((s) => !doomed.has(s)) });
          }
        } finally {
          for (const c of chain) c.key.destroy();
        }
      });
    },

  };
}
