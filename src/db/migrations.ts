/**
 * Numbered schema migrations, applied in order inside one transaction each; PRAGMA user_version
 * records the last one applied. Never edit a migration that has shipped: add the next number.
 *
 * The schema is deliberately featureless. Every vault's data is a `record` whose body is sealed
 * under that vault's key, and whose `tag` is a keyed hash of its id, so rows of the real vault
 * and of a decoy look alike and nothing in the table says how many vaults there are.
 */
export const MIGRATIONS: readonly string[] = [
  // 1: sealed records
  `CREATE TABLE records (
     id   BLOB PRIMARY KEY CHECK (length(id) = 16),
     tag  BLOB NOT NULL CHECK (length(tag) = 16),
     body BLOB NOT NULL
   ) STRICT, WITHOUT ROWID;`,
  // 2: rows of the records table that failed to open, moved aside by `elohim verify --repair`
  // exactly as they were (any vault's, so it says no more than the records table did)
  `CREATE TABLE quarantine (
     id   BLOB PRIMARY KEY,
     tag  BLOB NOT NULL,
     body BLOB NOT NULL
   ) STRICT, WITHOUT ROWID;`,
];
