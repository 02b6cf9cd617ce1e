/**
 * The SQLite file format as an examiner reads it without SQLite: the 100-byte header and the
 * freelist (sqlite.org/fileformat.html §1.3, §1.5). Pure: bytes in, facts out.
 */
import type { SqliteEvidence } from './evidence.ts';

export function parseSqliteHeader(file: Buffer): SqliteEvidence['header'] {
  if (file.length < 100 || file.subarray(0, 16).toString('latin1') !== 'SQLite format 3\0') {
    throw new Error('db.sqlite does not start with the SQLite header');
  }
  const rawPageSize = file.readUInt16BE(16);
  return {
    pageSize: rawPageSize === 1 ? 65536 : rawPageSize,
    writeVersion: file[18]!,
    readVersion: file[19]!,
    reservedPerPage: file[20]!,
    changeCounter: file.readUInt32BE(24),
    pageCount: file.readUInt32BE(28),
    freelistTrunk: file.readUInt32BE(32),
    freelistCount: file.readUInt32BE(36),
    schemaCookie: file.readUInt32BE(40),
    schemaFormat: file.readUInt32BE(44),
    defaultCacheSize: file.readUInt32BE(48),
    autovacuumTop: file.readUInt32BE(52),
    textEncoding: file.readUInt32BE(56),
    userVersion: file.readUInt32BE(60),
    incrementalVacuum: file.readUInt32BE(64),
    applicationId: file.readUInt32BE(68),
    versionValidFor: file.readUInt32BE(92),
    sqliteVersion: file.readUInt32BE(96),
  };
}

/**
 * Whether every page on the freelist holds nothing of the rows once stored there. Deleted rows
 * whose bytes survived on free pages would be readable by anyone (and a decoy's own deletions and
 * another vault's look alike only while both are zeros). secure_delete zeroes a page as it is
 * freed. A trunk page is: next trunk (4) ‖ leaf count (4) ‖ leaf page numbers; when a leaf is
 * reused SQLite lowers the count and leaves the old last pointer behind, so past the list a
 * trunk may hold stale page numbers (checked: node:sqlite, delete then insert), never data.
 */
export function freePagesHoldNoData(file: Buffer, header: SqliteEvidence['header']): boolean {
  const page = (n: number) => file.subarray((n - 1) * header.pageSize, n * header.pageSize);
  const isZero = (b: Buffer) => b.every((x) => x === 0);
  const seen = new Set<number>();
  for (let trunk = header.freelistTrunk; trunk !== 0; ) {
    if (seen.has(trunk) || trunk > header.pageCount) throw new Error(`db.sqlite has a broken freelist at page ${trunk}`);
    seen.add(trunk);
    const t = page(trunk);
    const leaves = t.readUInt32BE(4);
    for (let at = 8 + 4 * leaves; at + 4 <= t.length; at += 4) {
      if (t.readUInt32BE(at) > header.pageCount) return false; // neither zero nor a page number
    }
    for (let i = 0; i < leaves; i++) {
      if (!isZero(page(t.readUInt32BE(8 + 4 * i)))) return false;
    }
    trunk = t.readUInt32BE(0);
  }
  return true;
}
