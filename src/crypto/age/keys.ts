/**
 * Text encodings of age keys (Bech32, BIP 173 without its length limit, as the age spec says):
 * `age1…` / `AGE-SECRET-KEY-1…` for X25519 and `age1pq1…` / `AGE-SECRET-KEY-PQ-1…` for the
 * hybrid type. Recipients are lowercase and identities uppercase, as age writes and reads them.
 */
import { randomBytes } from 'node:crypto';
import { bech32 } from '@scure/base';
import { ElohimError } from '../../errors.ts';
import type { ErrorCode } from '../../errors.ts';
import { HybridIdentity, HybridRecipient } from './mlkem.ts';
import { X25519Identity, X25519Recipient } from './x25519.ts';
import type { Identity, Recipient } from './types.ts';

const X25519_RECIPIENT_HRP = 'age';
const HYBRID_RECIPIENT_HRP = 'age1pq';
const X25519_IDENTITY_HRP = 'AGE-SECRET-KEY-';
const HYBRID_IDENTITY_HRP = 'AGE-SECRET-KEY-PQ-';

function encode(hrp: string, bytes: Uint8Array): string {
  const s = bech32.encode(hrp, bech32.toWords(bytes), false);
  return hrp === hrp.toUpperCase() ? s.toUpperCase() : s;
}

/**
 * Decodes Bech32 `s` if its human-readable part is exactly `hrp` (case included); null if the
 * prefix differs, and `code` when the prefix matches but the rest is not valid Bech32.
 */
function decode(s: string, hrp: string, code: ErrorCode, what: string): Uint8Array | null {
  if (!s.startsWith(`${hrp}1`)) return null;
  const data = s.slice(hrp.length + 1);
  // The separator is the last "1"; data containing one means the prefix was something longer.
  if (data.includes('1')) return null;
  const cased = hrp === hrp.toUpperCase() ? s.toUpperCase() : s.toLowerCase();
  if (s !== cased) throw new ElohimError(code, `${what} must be all ${hrp === hrp.toUpperCase() ? 'upper' : 'lower'}case`);
  try {
    return bech32.fromWords(bech32.decode(s, false).words);
  } catch (err) {
    throw new ElohimError(code, `${what} is not valid Bech32`, { cause: err });
  }
}

/**
 * Parses an `age1…` (X25519) or `age1pq1…` (hybrid ML-KEM-768 + X25519) recipient.
 * Throws INVALID_RECIPIENT for anything else, including plugin, tag and SSH recipients.
 */
export function parseRecipient(s: string): Recipient {
  const hybrid = decode(s, HYBRID_RECIPIENT_HRP, 'INVALID_RECIPIENT', 'a recipient');
  if (hybrid !== null) return new HybridRecipient(hybrid);
  const classic = decode(s, X25519_RECIPIENT_HRP, 'INVALID_RECIPIENT', 'a recipient');
  if (classic !== null) return new X25519Recipient(classic);
  if (s.startsWith('age1')) throw new ElohimError('INVALID_RECIPIENT', 'plugin and tag recipients are not supported');
  if (s.startsWith('ssh-')) throw new ElohimError('INVALID_RECIPIENT', 'SSH recipients are not supported');
  throw new ElohimError('INVALID_RECIPIENT', 'not an age recipient (expected age1…)');
}

function decodeIdentity(s: string): { kind: 'x25519' | 'hybrid'; secret: Uint8Array } {
  const hybrid = decode(s, HYBRID_IDENTITY_HRP, 'INVALID_IDENTITY', 'an identity');
  if (hybrid !== null) return { kind: 'hybrid', secret: hybrid };
  const classic = decode(s, X25519_IDENTITY_HRP, 'INVALID_IDENTITY', 'an identity');
  if (classic !== null) return { kind: 'x25519', secret: classic };
  if (s.startsWith('AGE-PLUGIN-')) throw new ElohimError('INVALID_IDENTITY', 'plugin identities are not supported');
  throw new ElohimError('INVALID_IDENTITY', 'not an age identity (expected AGE-SECRET-KEY-1…)');
}

/** Parses an `AGE-SECRET-KEY-1…` or `AGE-SECRET-KEY-PQ-1…` identity. Throws INVALID_IDENTITY otherwise. */
export function parseIdentity(s: string): Identity {
  const { kind, secret } = decodeIdentity(s);
  return kind === 'hybrid' ? new HybridIdentity(secret) : new X25519Identity(secret);
}

/** Lines of an age-keygen identity file that hold keys: `#` comments and empty lines are skipped, CRLF tolerated. */
function keyLines(text: string): { line: string; number: number }[] {
  return text
    .split('\n')
    .map((raw, i) => ({ line: raw.endsWith('\r') ? raw.slice(0, -1) : raw, number: i + 1 }))
    .filter(({ line }) => line !== '' && !line.startsWith('#'));
}

/** The identity strings of an identity file, unparsed. Throws INVALID_IDENTITY if there are none. */
export function identityLines(text: string): string[] {
  const lines = keyLines(text).map(({ line }) => line);
  if (lines.length === 0) throw new ElohimError('INVALID_IDENTITY', 'the identity file has no identities');
  return lines;
}

/**
 * Parses an identity file as age-keygen writes it (see {@link identityLines}). Throws
 * INVALID_IDENTITY naming the number of a bad line (never its content, which is secret).
 */
export function parseIdentityFile(text: string): Identity[] {
  const identities = keyLines(text).map(({ line, number }) => {
    try {
      return parseIdentity(line);
    } catch (err) {
      if (err instanceof ElohimError) throw new ElohimError(err.code, `line ${number} of the identity file: ${err.message}`);
      throw err;
    }
  });
  if (identities.length === 0) throw new ElohimError('INVALID_IDENTITY', 'the identity file has no identities');
  return identities;
}

/** Encodes a 32-byte X25519 scalar as `AGE-SECRET-KEY-1…`. Throws INVALID_IDENTITY for another length. */
export function x25519IdentityFromSecret(secret32: Uint8Array): string {
  if (secret32.length !== 32) throw new ElohimError('INVALID_IDENTITY', 'an X25519 identity must be 32 bytes');
  return encode(X25519_IDENTITY_HRP, secret32);
}

/** The recipient of an identity: `age1…` for X25519, `age1pq1…` for hybrid. Throws INVALID_IDENTITY. */
export function recipientOfIdentity(identity: string): string {
  const { kind, secret } = decodeIdentity(identity);
  if (kind === 'hybrid') return encode(HYBRID_RECIPIENT_HRP, new HybridIdentity(secret).publicKey);
  return encode(X25519_RECIPIENT_HRP, new X25519Identity(secret).publicKey);
}

export function generateX25519Identity(): { identity: string; recipient: string } {
  const identity = x25519IdentityFromSecret(randomBytes(32));
  return { identity, recipient: recipientOfIdentity(identity) };
}

/** A new hybrid post-quantum identity (`AGE-SECRET-KEY-PQ-1…`) and its `age1pq1…` recipient. */
export function generateHybridIdentity(): { identity: string; recipient: string } {
  const identity = encode(HYBRID_IDENTITY_HRP, randomBytes(32));
  return { identity, recipient: recipientOfIdentity(identity) };
}
