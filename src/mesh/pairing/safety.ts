/**
 * The safety number both devices show after pairing, for their users to compare (read aloud or
 * side by side) and confirm. Derived from both public keys as Signal's is
 * (signal.org/docs "safety numbers"; libsignal's NumericFingerprintGenerator): each side's half
 * is SHA-512 iterated over a version, its public key and its stable id, shown as 30 digits; the
 * two halves are put in one order (the smaller first) so both devices show the same 60 digits.
 *
 * A machine in the middle that relayed the pairing with keys of its own would leave each device
 * a different number: that is what comparing catches. The iterations (5,200, as Signal) make
 * grinding a key whose number matches costly.
 */
import { createHash } from 'node:crypto';

const ITERATIONS = 5200;
const VERSION = Uint8Array.of(0, 0);

function half(publicKey: Uint8Array, stableId: string): string {
  const id = Buffer.from(stableId, 'utf8');
  let hash = createHash('sha512').update(VERSION).update(publicKey).update(id).digest();
  for (let i = 1; i < ITERATIONS; i++) hash = createHash('sha512').update(hash).update(publicKey).digest();
  let digits = '';
  // six chunks of 5 bytes, each a 5-digit group (libsignal's encoding)
  for (let i = 0; i < 30; i += 5) {
    const chunk = hash.readUIntBE(i, 5);
    digits += String(chunk % 100000).padStart(5, '0');
  }
  return digits;
}

/** 60 digits in 12 groups of five ("12345 67890 …"); the same on both devices. */
export function safetyNumber(a: { publicKey: Uint8Array; id: string }, b: { publicKey: Uint8Array; id: string }): string {
  const halves = [half(a.publicKey, a.id), half(b.publicKey, b.id)].sort();
  return (halves[0]! + halves[1]!).match(/.{5}/g)!.join(' ');
}
