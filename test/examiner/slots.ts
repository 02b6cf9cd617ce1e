/**
 * keyslots.bin as the examiner reads it with what the user handed over: which slots the
 * passphrase and each recovery code open, the header's fields, and whether the slots nothing
 * opens look like random bytes.
 */
import { decodeKeySlots, openSlot, passphraseKey, recoveryKey } from '../../src/keyring/keyslots.ts';
import type { KdfCost } from '../../src/keyring/keyslots.ts';
import { byteUniformity } from '../helpers.ts';
import type { KeyslotsEvidence } from './evidence.ts';

/** What the user handed over: the passphrase of one vault and, perhaps, its recovery codes. */
export interface Handover {
  passphrase: string;
  recoveryCodes: readonly string[];
}

function examineKeyslots(bytes: Buffer, opened: Map<number, 'passphrase' | 'recovery'>, codesOpening: number, codes: number): KeyslotsEvidence {
  const ks = decodeKeySlots(bytes);
  const unopened = Buffer.concat(ks.slots.filter((_, i) => !opened.has(i)));
  const { z } = byteUniformity(unopened);
  return {
    size: bytes.length,
    magic: bytes.subarray(0, 8).toString('latin1'),
    version: bytes[8]!,
    cost: ks.cost,
    costsUsed: [...ks.costsUsed].sort(),
    reserved: bytes[11]!,
    argon2: { ...ks.argon2 },
    slots: ks.slots.map((_, index) => ({ index, opens: opened.get(index) ?? null })),
    everyCodeOpens: codesOpening === codes,
    unopenedLookRandom: z < 5,
    unopenedZ: z,
  };
}

/**
 * Opens every slot the handed-over secrets open (the passphrase at every Argon2 cost the header
 * says was ever chosen). Returns the vault's master key. Throws when the passphrase opens nothing.
 */
export async function openSlots(bytes: Buffer, handover: Handover) {
  const ks = decodeKeySlots(bytes);
  const opened = new Map<number, 'passphrase' | 'recovery'>();
  let master: Buffer | null = null;
  for (const cost of ks.costsUsed as Set<KdfCost>) {
    const key = await passphraseKey(ks, handover.passphrase, cost);
    ks.slots.forEach((slot, i) => {
      const content = openSlot(key, i, slot);
      if (content === null) return;
      opened.set(i, 'passphrase');
      master ??= content.master;
    });
  }
  if (master === null) throw new Error('the handed-over passphrase opens no key slot');
  let codesOpening = 0;
  for (const code of handover.recoveryCodes) {
    const key = recoveryKey(ks, code);
    let hits = 0;
    ks.slots.forEach((slot, i) => {
      const content = openSlot(key, i, slot);
      if (content === null) return;
      hits++;
      opened.set(i, 'recovery');
      if (!content.master.equals(master!)) throw new Error(`recovery code opens slot ${i} of another vault`);
    });
    if (hits === 1) codesOpening++;
  }
  return { master: master as Buffer, keyslots: examineKeyslots(bytes, opened, codesOpening, handover.recoveryCodes.length) };
}

