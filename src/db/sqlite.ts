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

/**
 * Open transactions, by database: one array of rollback callbacks per nesting level. Keyed by the
 * connection (a WeakMap, so nothing outlives it); only inTransaction and onRollback touch it.
 */
const open = new WeakMap<Database, (() => void)[][]>();

/**
 * Runs `fn` in an IMMEDIATE transaction: all of it commits, or none of it. Called inside another
 * transaction on the same database, it runs in a savepoint of that one, so a caller can put
 * several stores' commits (a vault's deletion and its audit entry) into one transaction; the
 * inner one then commits only when the outermost does.
 */
export function inTransaction<T>(db: Database, fn: () => T): T {
  const levels = open.get(db);
  if (levels !== undefined) {
    const name = `elohim_${levels.length}`;
    db.exec(`SAVEPOINT ${name}`);
    levels.push([]);
    try {
      const result = fn();
      db.exec(`RELEASE ${name}`);
      const done = levels.pop()!;
      levels.at(-1)!.push(...done); // undone too if an outer level rolls back
      return result;
    } catch (err) {
      db.exec(`ROLLBACK TO ${name}`);
      db.exec(`RELEASE ${name}`);
      for (const undo of levels.pop()!.reverse()) undo();
      throw err;
    }
  }
  db.exec('BEGIN IMMEDIATE');
  const mine: (() => void)[][] = [[]];
  open.set(db, mine);
  const hooks = commitHooks.get(db);
  try {
    hooks?.begin();
    const result = fn();
    // A hook that throws (the deniable store full) rolls the transaction back like any failure.
    hooks?.commit();
    db.exec('COMMIT');
    return result;
  } catch (err) {
    // A failed COMMIT (a full disk) may have ended the transaction already.
    if (db.isTransaction) db.exec('ROLLBACK');
    for (const undo of mine.flat().reverse()) undo();
    throw err;
  } finally {
    open.delete(db);
  }
}

/**
 * What a database kept elsewhere than its own file needs to see of each outermost transaction:
 * `begin` after BEGIN, `commit` right before COMMIT (it may throw to roll back). The deniable
 * store (src/store) keeps an in-memory database whose changes it writes to its own log there.
 */
export interface CommitHooks {
  begin(): void;
  commit(): void;
}

const commitHooks = new WeakMap<Database, CommitHooks>();

/** Sets the commit hooks of `db` (see CommitHooks). */
export function setCommitHooks(db: Database, hooks: CommitHooks): void {
  commitHooks.set(db, hooks);
}

/**
 * Inside a transaction, calls `undo` if the part of it running now is rolled back (so memory
 * that followed a write can follow its undoing); outside one, does nothing.
 */
export function onRollback(db: Database, undo: () => void): void {
  open.get(db)?.at(-1)!.push(undo);
}
