import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { Command, CommanderError } from 'commander';
import { auditKeys, createAuditLog } from '../../audit/index.ts';
import type { AuditLog, AuditRecord } from '../../audit/index.ts';
import { openDatabase } from '../../db/index.ts';
import { isElohimError } from '../../errors.ts';
import { createRecordStore } from '../../db/index.ts';
import { EXIT, EXIT_CODE_OF } from '../exit-codes.ts';
import { auditCommand, parseIsoTime } from './audit.ts';
import type { WithAudit } from './audit.ts';
import type { WitnessReport } from '../../mesh/shares/index.ts';

const T0 = Date.UTC(2026, 0, 31, 14, 0, 0);
const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

/** A real log on an in-memory database, standing in for the one an unlocked vault carries. */
function sampleLog() {
  const db = openDatabase(':memory:');
  const clock = { now: T0 };
  const log = createAuditLog({ records: createRecordStore<AuditRecord>({ db, keys: auditKeys(randomBytes(32)) }), clock: () => clock.now });
  log.append('setup', { device: 'field laptop' });
  clock.now += 60_000;
  log.append('unlock', { method: 'passphrase' });
  clock.now += 24 * 3600_000;
  log.append('download', { path: '/reports/\u001b[31mred\u202e.pdf', size: 12 });
  clock.now += 60_000;
  log.append('download', { path: '/reports/b.pdf', size: 13 });
  return { db, log };
}

/** Runs `elohim audit …args` in-process; stdout and stderr are captured. */
async function audit(log: AuditLog, args: string[], witnessed?: () => WitnessReport): Promise<{ stdout: string; stderr: string; error?: unknown }> {
  const withAudit: WithAudit = (_flags, fn) => fn(log, witnessed);
  const program = new Command('elohim').option('--recovery');
  program.addCommand(auditCommand(withAudit));
  const exitOverride = (cmd: Command) => {
    cmd.exitOverride();
    cmd.configureOutput({ writeErr: () => {}, writeOut: () => {} });
    cmd.commands.forEach(exitOverride);
  };
  exitOverride(program);
  const out: string[] = [];
  const err: string[] = [];
  const { write: writeOut } = process.stdout;
  const { write: writeErr } = process.stderr;
  process.stdout.write = ((chunk: string | Uint8Array) => (out.push(String(chunk)), true)) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string | Uint8Array) => (err.push(String(chunk)), true)) as typeof process.stderr.write;
  try {
    await program.parseAsync(['audit', ...args], { from: 'user' });
    return { stdout: out.join(''), stderr: err.join('') };
  } catch (error) {
    return { stdout: out.join(''), stderr: err.join(''), error };
  } finally {
    process.stdout.write = writeOut;
    process.stderr.write = writeErr;
  }
}

test('audit ls: newest first, filters, paging and JSON', async () => {
  const { log } = sampleLog();
  const json = JSON.parse((await audit(log, ['ls', '--json'])).stdout) as { entries: { seq: number }[]; total: number };
  assert.deepEqual([json.entries.map((e) => e.seq), json.total], [[4, 3, 2, 1], 4]);
  const downloads = JSON.parse((await audit(log, ['ls', '--json', '--event', 'download', '--limit', '1', '--offset', '1'])).stdout);
  assert.deepEqual([downloads.entries.map((e: { seq: number }) => e.seq), downloads.total], [[3], 2]);
  const day = JSON.parse((await audit(log, ['ls', '--json', '--since', '2026-01-31', '--until', '2026-02-01'])).stdout);
  assert.deepEqual(day.entries.map((e: { seq: number }) => e.seq), [2, 1]);
  const exact = JSON.parse((await audit(log, ['ls', '--json', '--since', '2026-01-31T14:01Z'])).stdout);
  assert.equal(exact.total, 3);

  const text = await audit(log, ['ls', '--limit', '3']);
  const lines = text.stdout.trimEnd().split('\n');
  assert.equal(lines.length, 3);
  assert.match(lines[2]!, /^\s+2  2026-01-31 14:01:00Z  unlock\s+method=passphrase$/);
  // Text from a file name cannot drive the terminal: escapes and bidi overrides are shown as \u….
  assert.ok(lines[1]!.includes('path="/reports/\\u001b[31mred\\u202e.pdf"'), lines[1]);
  assert.ok(!/[\u001b\u202e]/.test(text.stdout));
  assert.match(text.stderr, /3 of 4 shown/);
});

test('audit ls refuses bad times, limits and events', async () => {
  const { log } = sampleLog();
  for (const args of [['--since', 'yesterday'], ['--until', '2026-13-01'], ['--limit', '0'], ['--limit', '1001'], ['--offset', '-1']]) {
    const r = await audit(log, ['ls', ...args]);
    assert.ok(isElohimError(r.error, 'INVALID_INPUT') || r.error instanceof CommanderError, args.join(' '));
  }
  assert.ok((await audit(log, ['ls', '--event', 'nope'])).error instanceof CommanderError);
  assert.equal(parseIsoTime('--since')('2026-01-31T14:00+02:00'), Date.UTC(2026, 0, 31, 12));
  assert.equal(parseIsoTime('--since')('2026-01-31 14:00:05.5'), Date.UTC(2026, 0, 31, 14, 0, 5, 500));
});

test('audit verify: ok on an intact log; exit 6 with the first bad entry once a row is deleted', async () => {
  const { db, log } = sampleLog();
  const ok = await audit(log, ['verify']);
  assert.equal(ok.error, undefined);
  assert.match(ok.stdout, /^audit log intact: 4 entries, head #4 [0-9a-f]{64}\n$/);
  const okJson = JSON.parse((await audit(log, ['verify', '--json'])).stdout);
  assert.deepEqual([okJson.ok, okJson.entries, okJson.head.seq], [true, 4, 4]);

  // Remove one row the log owns (found by trying: any entry row but not the head breaks it).
  const rows = db.prepare('SELECT id FROM records').all() as { id: Uint8Array }[];
  let broken: Awaited<ReturnType<typeof audit>> | null = null;
  for (const row of rows) {
    const saved = db.prepare('SELECT id, tag, body FROM records WHERE id = ?').get(row.id) as { id: Uint8Array; tag: Uint8Array; body: Uint8Array };
    db.prepare('DELETE FROM records WHERE id = ?').run(row.id);
    const r = await audit(log, ['verify']);
    assert.ok(isElohimError(r.error, 'AUDIT_CHAIN_BROKEN'));
    assert.equal(EXIT_CODE_OF.AUDIT_CHAIN_BROKEN, EXIT.INTEGRITY);
    assert.match(r.stdout, /^audit log BROKEN/);
    if (/at entry #2:/.test(r.stdout)) broken = r;
    db.prepare('INSERT INTO records (id, tag, body) VALUES (?, ?, ?)').run(saved.id, saved.tag, saved.body);
  }
  assert.match(broken?.stdout ?? '', /^audit log BROKEN at entry #2: entry #2 is missing/);
  assert.equal((await audit(log, ['verify'])).error, undefined);
});

test('audit export: JSON Lines to stdout or to a new 0600 file', async () => {
  const { log } = sampleLog();
  const expected = [...log.exportJsonl()].join('');
  assert.equal((await audit(log, ['export'])).stdout, expected);
  assert.deepEqual(expected.trimEnd().split('\n').map((l) => (JSON.parse(l) as { seq: number }).seq), [1, 2, 3, 4]);

  const dir = await mkdtemp(join(tmpdir(), 'elohim-audit-cli-'));
  dirs.push(dir);
  const out = join(dir, 'audit.jsonl');
  const r = await audit(log, ['export', '-o', out]);
  assert.equal(r.error, undefined);
  assert.match(r.stderr, /4 audit entries written/);
  assert.equal(await readFile(out, 'utf8'), expected);
  assert.equal((await stat(out)).mode & 0o777, 0o600);
  await writeFile(out, 'keep me');
  assert.ok(isElohimError((await audit(log, ['export', '-o', out])).error, 'ITEM_EXISTS'));
  assert.equal(await readFile(out, 'utf8'), 'keep me');
  assert.equal((await audit(log, ['export', '-o', out, '--force'])).error, undefined);
  assert.equal(await readFile(out, 'utf8'), expected);
});

test('audit verify reports the latest witnessed head, and fails (exit 6) when this log is older than what a paired device saw', async () => {
  const { log } = sampleLog();
  const latest = { peer: '12D3KooWPeer', name: 'clinic-laptop', seq: 4, hash: 'ab'.repeat(32), at: Date.UTC(2026, 1, 1, 9, 30) };
  const good = await audit(log, ['verify'], () => ({ ok: true, latest }));
  assert.equal(good.error, undefined);
  assert.match(good.stdout, /latest witnessed head: entry #4 by clinic-laptop at 2026-02-01 09:30 UTC/);
  const json = JSON.parse((await audit(log, ['verify', '--json'], () => ({ ok: true, latest }))).stdout);
  assert.deepEqual(json.witness.latest, latest);

  const problem = 'clinic-laptop witnessed entry 9 of this log, which has 4';
  const older = await audit(log, ['verify'], () => ({ ok: false, latest: { ...latest, seq: 9 }, problem }));
  assert.ok(isElohimError(older.error, 'AUDIT_CHAIN_BROKEN'), String(older.error));
  assert.match(older.stdout, /MISMATCH: clinic-laptop witnessed entry 9/);
  assert.equal(EXIT_CODE_OF.AUDIT_CHAIN_BROKEN, 6);
});
