import { createHash, randomBytes, randomInt } from 'node:crypto';
import { BODY_BUCKET, SEALED_BODY_OVERHEAD } from '../db/index.ts';
import type { RawRow } from '../db/index.ts';

/**
 * Chaff: rows and objects that no vault accounts for, made in every data folder, so that finding
 * some says nothing about a hidden vault. They are random bytes shaped exactly like real ones: a
 * row has a random id and tag and a body the length of a sealed body in some 64-byte bucket; an
 * object has a length some plaintext would give (nonce ‖ STREAM). Nothing marks them as chaff,
 * not even to us: a rule that found them would find them for an examiner too, and the rest would
 * be the hidden vault's. So chaff is only ever added, never removed or rewritten.
 *
 * Pure: the sizes are drawn here, the bytes written by maintenance.ts.
 */

/** Rows seeded at set-up: enough that a small hidden vault's rows are among ordinary numbers. */
export const SEED_ROWS = { min: 24, max: 160 } as const;
/** Objects seeded at set-up. */
export const SEED_OBJECTS = { min: 3, max: 24 } as const;
/** Rows and objects one maintenance pass may add. */
export const PASS_ROWS = { min: 0, max: 4 } as const;
export const PASS_OBJECT_CHANCE = 0.35;

const between = (r: { min: number; max: number }) => randomInt(r.min, r.max + 1);

/**
 * A body length as the record store makes them: most records (items, audit entries, seals) fill
 * 2–6 buckets, a few more.
 */
function bodyLength(): number {
  const buckets = randomInt(100) < 85 ? randomInt(2, 7) : randomInt(7, 17);
  return SEALED_BODY_OVERHEAD + buckets * BODY_BUCKET;
}

/**
 * The cover row: one row every folder has, at an id and tag everyone knows (so it explains
 * nothing away), given new random bytes by every maintenance pass so that db.sqlite is written
 * then, whether or not a vault wrote.
 */
export function coverRow(): RawRow {
  const fixed = (label: string) => createHash('sha256').update(label).digest().subarray(0, 16);
  return { id: fixed('elohim/v1 cover row id'), tag: fixed('elohim/v1 cover row tag'), body: randomBytes(SEALED_BODY_OVERHEAD + 2 * BODY_BUCKET) };
}

export function chaffRows(count: number): RawRow[] {
  return Array.from({ length: count }, () => ({ id: randomBytes(16), tag: randomBytes(16), body: randomBytes(bodyLength()) }));
}

/**
 * A plaintext size for a chaff object: log-uniform from 200 bytes to 4 MiB, the range of the
 * documents and photos a field team keeps, so chaff neither stands out by size nor fills the disk.
 */
export function chaffPlaintextSize(): number {
  const lo = Math.log(200);
  const hi = Math.log(4 * 1024 * 1024);
  return Math.round(Math.exp(lo + (hi - lo) * (randomInt(1_000_000) / 1_000_000)));
}

export function seedCounts(): { rows: number; objects: number } {
  return { rows: between(SEED_ROWS), objects: between(SEED_OBJECTS) };
}

export function passCounts(): { rows: number; objects: number } {
  return { rows: between(PASS_ROWS), objects: randomInt(1_000_000) < PASS_OBJECT_CHANCE * 1_000_000 ? 1 : 0 };
}
