/**
 * The backup repository key (src/backup/format/v1.ts, "The repository key"): HKDF of the FRONT
 * vault's master key (position 1), which every vault of a folder reaches. The front vault holds
 * it; a vault standing behind the front keeps it in its bookkeeping (the decoy's key, kept to
 * remove the decoy). So a backup started from the decoy and one started from the vault behind
 * it are one repository, and nothing about a repository says which vault made it.
 *
 * It lives in the keyring because it reads the keyring's bookkeeping (its format is ours), and
 * the master keys never leave this folder.
 */
import { hkdf } from '../crypto/index.ts';
import { insertRawRows, openDatabase } from '../db/index.ts';
import type { RawRow } from '../db/index.ts';
import { ElohimError } from '../errors.ts';
import { recordKeysOfMaster, slotBookOf } from './bookkeeping.ts';
import type { SlotBook } from './bookkeeping.ts';
import { decodeKeySlots, findPassphraseSlot, findSlot, recoveryKey } from './keyslots.ts';
import type { UnlockSecret } from './keyring.ts';

/** The HKDF label of the repository key; a backup format of another version would use another. */
export const BACKUP_KEY_LABEL = 'elohim/v1 backup repository';

/**
 * The repository key of the vault whose own master key is `master` and whose bookkeeping is
 * `book`. Version 2: only a position-0 vault holds a companion, and it is the front one.
 * Version 1 (chains of decoys): the vault that made a decoy holds its key; a chain's vaults get
 * the key of their first link, which is not one key for the whole chain (the README says v1
 * folders keep v1's weaker deniability).
 */
export function backupKeyOf(master: Buffer, book: SlotBook | null): Buffer {
  const front = book?.companion?.master;
  if (typeof front === 'string' && /^[0-9a-f]{64}$/.test(front)) {
    const frontKey = Buffer.from(front, 'hex');
    try {
      return hkdf(frontKey, Buffer.alloc(0), BACKUP_KEY_LABEL);
    } finally {
      frontKey.fill(0);
    }
  }
  return hkdf(master, Buffer.alloc(0), BACKUP_KEY_LABEL);
}

/**
 * The repository key from a backup's clear parts alone, for a restore on a fresh device: the
 * key slots as they were backed up and every backed-up row, asked for (`rows`) only once the
 * secret has opened a slot, after the key derivation. The rows go into an in-memory
 * database (nothing is written to disk), the secret opens its slot, the vault's bookkeeping is
 * read from its own rows. Throws VAULT_WRONG_SECRET when no slot opens, VAULT_CORRUPT when the
 * key slots are not ours. No throttle: whoever holds the repository can try passphrases
 * offline anyway, at the Argon2id cost of each attempt.
 */
export async function backupKeyFromImage(image: { keyslots: Buffer; rows: () => Promise<Iterable<RawRow>> }, secret: UnlockSecret): Promise<Buffer> {
  const ks = decodeKeySlots(image.keyslots);
  const found = 'passphrase' in secret ? (await findPassphraseSlot(ks, secret.passphrase, secret.derived ?? undefined)).found : findSlot(ks, recoveryKey(ks, secret.recoveryCode));
  const method = 'passphrase' in secret ? 'passphrase' : 'recovery';
  if (found === null || found.content.kind !== method) {
    throw new ElohimError('VAULT_WRONG_SECRET', 'passphrase' in secret ? 'wrong passphrase for this backup' : 'wrong recovery code for this backup');
  }
  const master = found.content.master;
  const db = openDatabase(':memory:');
  try {
    // Fetched only now, past the key derivation (its memory is free again) and only for a secret that opened a slot.
    insertRawRows(db, await image.rows());
    return backupKeyOf(master, slotBookOf(db, recordKeysOfMaster(master)).read());
  } finally {
    db.close();
    master.fill(0);
  }
}
