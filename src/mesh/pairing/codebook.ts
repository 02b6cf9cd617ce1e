/**
 * The codes this device shows: at most one open at a time (a new one replaces the last), each
 * good for one pairing within its lifetime. Codes that ended (used, expired, replaced, burnt by
 * wrong proofs) are remembered by id for the life of the node, so a joiner hears why.
 */
import type { CodeBook, RefusalReason } from './protocol.ts';
import { codeIdOf } from './protocol.ts';

/** Wrong proofs after which a code is burnt (a code guessed online has 2^-128 odds each try anyway). */
const MAX_FAILURES = 3;

export interface OpenCode {
  id: string;
  secret: Uint8Array;
  expires: number;
}

export interface ShownCodes extends CodeBook {
  open(secret: Uint8Array, expires: number): OpenCode;
  /** the open code, if any and not expired */
  current(): OpenCode | null;
  /**
   * Whether unknown devices may connect (to pair): from a code's creation to its expiry, even
   * once it is used, so that a second device trying it hears "already used" instead of a
   * refused connection. Withdrawing the code (cancel) closes it at once.
   */
  windowOpen(): boolean;
  cancel(): void;
}

export function createCodeBook(clock: () => number): ShownCodes {
  let open: (OpenCode & { failures: number }) | null = null;
  let windowUntil = 0;
  const ended = new Map<string, RefusalReason>();
  const endOpen = (reason: RefusalReason) => {
    if (open !== null) ended.set(open.id, reason);
    open = null;
  };
  const current = () => {
    if (open !== null && clock() >= open.expires) endOpen('expired');
    return open;
  };
  return {
    open(secret, expires) {
      endOpen('used'); // a replaced code reads as used up: it will never pair
      open = { id: codeIdOf(secret), secret, expires, failures: 0 };
      windowUntil = expires;
      return open;
    },
    current,
    windowOpen: () => clock() < windowUntil,
    cancel() {
      endOpen('used');
      windowUntil = 0;
    },
    lookup(codeId) {
      const c = current();
      if (c !== null && c.id === codeId) return { secret: c.secret };
      return { refused: ended.get(codeId) ?? 'invalid' };
    },
    failed(codeId) {
      if (open !== null && open.id === codeId && ++open.failures >= MAX_FAILURES) endOpen('used');
    },
    consume(codeId) {
      const c = current();
      if (c === null || c.id !== codeId) return false;
      endOpen('used');
      return true;
    },
  };
}
