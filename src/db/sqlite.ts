import { DatabaseSync } from 'node:sqlite';
import { ElohimError } from '../errors.ts';
import { MIGRATIONS } from './migrations.ts';

export type Database = DatabaseSync;

/**
 * Opens (creating if needed) the SQLite database at `path`, in WAL mode, and brings its schema up
 * to date. Throws VAULT_FORMAT_UNKNOWN when the file was written by a newer build.
 */
export function openDatabase(path: string): Database {
  const db = new DatabaseSync(path);
  try {
    db.exec('PRAGMA journal_mode = WAL');
    // FULL: a committed transaction survives power loss, which the crash-safety promise needs.
    db.exec('PRAGMA synchronous = FULL');
    // Overwrite deleted content so freed pages do not keep old ciphertext around.
    db.exec('PRAGMA secure_delete = ON');
    db.exec('PRAGMA busy_timeout = 5000');
    migrate(db);
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
}

function migrate(db: Database): void {
  const row = db.prepare('PRAGMA user_version').get() as { user_version: number };
  const current = row.user_version;
  if (current > MIGRATIONS.length) {
    throw new ElohimError('VAULT_FORMAT_UNKNOWN', `database schema ${current} is newer than this build knows`);
  }
  for (let i = current; i < MIGRATIONS.length; i++) {
    inTransaction(db, () => {
      db.exec(MIGRATIONS[i]!);
      db.exec(`PRAGMA user_version = ${i + 1}`);
    });
  }
}

/** Runs `fn` in an IMMEDIATE transaction: all of it commits, or none of it. */
export function inTransaction<T>(db: Database, fn: () => T): T {
  db.exec('BEGIN IMMEDIATE');
  try {
    const result = fn();
    db.exec('COMMIT');
    return result;
  } catch (err) {
    db.exec('ROLLBACK');
    throw err;
  }
}
