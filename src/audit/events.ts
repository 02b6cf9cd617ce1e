import { ElohimError } from '../errors.ts';
import { AUDIT_EVENTS } from './event-names.ts';

export { AUDIT_EVENTS };

export type AuditEvent = (typeof AUDIT_EVENTS)[number];

/** A flat record of what happened, sealed with the entry: `{ path: '/a.pdf', size: 12 }`. */
export type AuditDetails = Readonly<Record<string, string | number | boolean>>;

const EVENT_SET: ReadonlySet<string> = new Set(AUDIT_EVENTS);

export function isAuditEvent(s: unknown): s is AuditEvent {
  return typeof s === 'string' && EVENT_SET.has(s);
}

/**
 * Bounds on details. Keys are identifiers chosen by code (never user text), so the canonical
 * encoding can sort them as plain ASCII; string values may carry user text such as a vault path
 * (names are at most 255 bytes each), so they get room for a deep path.
 */
export const DETAIL_LIMITS = {
  keys: 16,
  keyPattern: /^[a-z][A-Za-z0-9_]{0,31}$/,
  stringBytes: 4096,
  totalBytes: 8192,
} as const;

/**
 * Checks `details` and returns a plain copy of them. Throws INVALID_INPUT for a key that is not
 * an identifier, a value that is not a string, finite number or boolean, a string that is not
 * well-formed Unicode, or sizes beyond DETAIL_LIMITS.
 */
export function checkDetails(details: unknown): Record<string, string | number | boolean> {
  if (typeof details !== 'object' || details === null || Array.isArray(details)) {
    throw new ElohimError('INVALID_INPUT', 'audit details must be a flat object');
  }
  const keys = Object.keys(details);
  if (keys.length > DETAIL_LIMITS.keys) throw new ElohimError('INVALID_INPUT', `audit details have more than ${DETAIL_LIMITS.keys} keys`);
  const out: Record<string, string | number | boolean> = {};
  let total = 0;
  for (const key of keys) {
    if (!DETAIL_LIMITS.keyPattern.test(key)) throw new ElohimError('INVALID_INPUT', `audit detail key ${JSON.stringify(key)} is not an identifier`);
    const value = (details as Record<string, unknown>)[key];
    if (typeof value === 'string') {
      if (!value.isWellFormed()) throw new ElohimError('INVALID_INPUT', `audit detail ${key} is not well-formed Unicode`);
      const bytes = Buffer.byteLength(value, 'utf8');
      if (bytes > DETAIL_LIMITS.stringBytes) throw new ElohimError('INVALID_INPUT', `audit detail ${key} is longer than ${DETAIL_LIMITS.stringBytes} bytes`);
      total += bytes;
    } else if (typeof value === 'number') {
      // JSON has no NaN or Infinity: they would be stored as null and break the hash.
      if (!Number.isFinite(value)) throw new ElohimError('INVALID_INPUT', `audit detail ${key} is not a finite number`);
    } else if (typeof value !== 'boolean') {
      throw new ElohimError('INVALID_INPUT', `audit detail ${key} must be a string, number or boolean`);
    }
    total += key.length + 24;
    out[key] = value;
  }
  if (total > DETAIL_LIMITS.totalBytes) throw new ElohimError('INVALID_INPUT', `audit details are larger than ${DETAIL_LIMITS.totalBytes} bytes`);
  return out;
}
