import { inTransaction } from './sqlite.ts';
import type { Database } from './sqlite.ts';

/** A row of the records table as bytes: what the sealed-record store writes, and what chaff imitates. */
export interface RawRow {
  id: Buffer;
  tag: Buffer;
  body: Buffer;
}

/** Sealed-body overhead of the record store: nonce(12) ‖ ciphertext ‖ tag(16); bodies pad to 64-byte buckets. */
export const SEALED_BODY_OVERHEAD = 28;
export const BODY_BUCKET = 64;

/** Inserts (or replaces) rows as they are (chaff: rows no key opens), in one transaction. */
export function insertRawRows(db: Database, rows: Iterable<RawRow>): void {
  const insert = db.prepare('INSERT OR REPLACE INTO records (id, tag, body) VALUES (?, ?, ?)');
  inTransaction(db, () => {
    for (const row of rows) insert.run(row.id, row.tag, row.body);
  });
}
