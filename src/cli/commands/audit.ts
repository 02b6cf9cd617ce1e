import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { lstat, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { randomBytes } from 'node:crypto';
import { Command, Option } from 'commander';
// A constant the command's help shows, from the small file that defines it rather than the
// domain's face: the face would load the domain's modules for every command and --help.
import { AUDIT_EVENTS } from '../../audit/event-names.ts';
import type { AuditDetails, AuditEntry, AuditEvent, AuditLog, AuditVerifyResult } from '../../audit/index.ts';
import type { WitnessReport } from '../../mesh/shares/index.ts';
import { ElohimError } from '../../errors.ts';
import { withVault } from '../context.ts';
import type { UnlockFlags } from '../context.ts';

/**
 * Runs `fn` with the audit log of the vault that `flags` unlock, and locks it afterwards; with
 * it, what paired devices witnessed of that log (MagnetarMesh), when there is a mesh.
 */
export type WithAudit = <T>(flags: UnlockFlags, fn: (audit: AuditLog, witnessed?: () => WitnessReport) => Promise<T>) => Promise<T>;

// the shares' service (and the mesh under it) holds what paired devices witnessed of the log
const withUnlockedAudit: WithAudit = (flags, fn) => withVault(flags, (unlocked) => fn(unlocked.audit, () => unlocked.shares.witnessCheck()), ['shares']);

const globals = (cmd: Command): UnlockFlags => cmd.optsWithGlobals() as UnlockFlags;

/**
 * An ISO 8601 date or date-time, as ms since the epoch. Without a zone it is UTC, as `ls`
 * prints times; a bare date is midnight UTC.
 */
export function parseIsoTime(flag: string) {
  return (v: string): number => {
    const m = /^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2}(?::\d{2}(?:\.\d{1,3})?)?)(Z|[+-]\d{2}:\d{2})?)?$/.exec(v);
    const ms = m === null ? Number.NaN : Date.parse(m[2] === undefined ? m[1]! : `${m[1]}T${m[2]}${m[3] ?? 'Z'}`);
    if (Number.isNaN(ms)) throw new ElohimError('INVALID_INPUT', `${flag} must be an ISO date or time, e.g. 2026-01-31 or 2026-01-31T14:00Z`);
    return ms;
  };
}

const wholeNumber = (flag: string, min: number, max: number) => (v: string): number => {
  const n = /^\d+$/.test(v) ? Number(v) : Number.NaN;
  if (!(n >= min && n <= max)) throw new ElohimError('INVALID_INPUT', `${flag} must be a whole number from ${min} to ${max}`);
  return n;
};

/**
 * A detail value for a terminal: plain when it is a simple word, otherwise JSON-quoted with
 * every control and format character escaped, so text that came from a file name cannot move
 * the cursor, recolour or reorder what the terminal shows.
 */
function showValue(v: string | number | boolean): string {
  if (typeof v !== 'string') return String(v);
  if (/^[^\s"'=\\\p{C}]+$/u.test(v)) return v;
  return JSON.stringify(v).replace(/\p{C}/gu, (c) => `\\u${c.codePointAt(0)!.toString(16).padStart(4, '0')}`);
}

const showDetails = (d: AuditDetails): string =>
  Object.keys(d)
    .sort()
    .map((k) => `${k}=${showValue(d[k]!)}`)
    .join(' ');

const showTime = (at: number): string => `${new Date(at).toISOString().slice(0, 19).replace('T', ' ')}Z`;

export function formatAuditEntry(e: AuditEntry): string {
  return `${String(e.seq).padStart(6)}  ${showTime(e.at)}  ${e.event.padEnd(17)}  ${showDetails(e.details)}`.trimEnd();
}

export function formatVerify(r: AuditVerifyResult): string {
  if (r.ok) {
    return r.head === undefined
      ? 'audit log intact: no entries yet'
      : `audit log intact: ${r.entries} entries, head #${r.head.seq} ${r.head.hash}`;
  }
  const where = r.firstBadEntry === undefined ? '' : ` at entry #${r.firstBadEntry}`;
  const repair = r.damagedRecords ? '; `elohim verify --repair` moves the damaged records aside (the gap stays on record)' : '';
  return `audit log BROKEN${where}: ${r.reason ?? 'unknown damage'} (${r.entries} entries verified before it)${repair}`;
}

/** The witnessed-head line of `audit verify`. */
export function formatWitness(w: WitnessReport): string {
  if (w.latest === null) return w.ok ? 'no paired device has witnessed this log yet' : `witnessed heads: ${w.problem ?? 'do not match'}`;
  const seen = `latest witnessed head: entry #${w.latest.seq} by ${w.latest.name} at ${new Date(w.latest.at).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
  return w.ok ? seen : `${seen}; MISMATCH: ${w.problem ?? 'this log is older than or differs from it'}`;
}

/** Writes `lines` to a new host file through a temp file (mode 0600: the export is plaintext). */
async function writeLines(lines: Iterable<string>, out: string, force: boolean): Promise<void> {
  if (!force && (await lstat(out).then(() => true, () => false))) {
    throw new ElohimError('ITEM_EXISTS', `${out} exists; use --force to overwrite`);
  }
  const tmp = join(dirname(out), `.${basename(out)}.${randomBytes(4).toString('hex')}.partial`);
  try {
    await pipeline(Readable.from(lines), createWriteStream(tmp, { flags: 'wx', mode: 0o600 }));
    await rename(tmp, out);
  } catch (err) {
    await unlink(tmp).catch(() => {});
    throw err;
  }
}

function lsCommand(withAudit: WithAudit): Command {
  return new Command('ls')
    .description('list audit events, newest first')
    .addOption(new Option('--event <event>', 'only this event').choices(AUDIT_EVENTS))
    .option('--since <iso>', 'only events at or after this time (UTC unless a zone is given)', parseIsoTime('--since'))
    .option('--until <iso>', 'only events before this time', parseIsoTime('--until'))
    .option('--limit <n>', 'at most N events (1..1000)', wholeNumber('--limit', 1, 1000), 100)
    .option('--offset <n>', 'skip the newest N matching events first', wholeNumber('--offset', 0, Number.MAX_SAFE_INTEGER), 0)
    .option('--json', 'print JSON: { entries, total }')
    .action(
      async (opts: { event?: AuditEvent; since?: number; until?: number; limit: number; offset: number; json?: boolean }, cmd: Command) => {
        await withAudit(globals(cmd), async (audit) => {
          const page = audit.list({ event: opts.event, since: opts.since, until: opts.until, limit: opts.limit, offset: opts.offset });
          if (opts.json) {
            process.stdout.write(JSON.stringify(page) + '\n');
            return;
          }
          for (const e of page.entries) process.stdout.write(formatAuditEntry(e) + '\n');
          const shown = opts.offset + page.entries.length;
          if (shown < page.total) process.stderr.write(`(${page.entries.length} of ${page.total} shown; use --limit and --offset for more)\n`);
        });
      },
    );
}

function verifyCommand(withAudit: WithAudit): Command {
  return new Command('verify')
    .description('check that no audit entry was altered, removed or reordered (exit 6 if one was)')
    .option('--json', 'print JSON: { ok, entries, firstBadEntry?, reason?, head?, damagedRecords? }')
    .addHelpText(
      'after',
      '\nNote the head it prints now and then (or keep an export): a copy of the whole database put\n' +
        'back from an earlier day verifies on its own, and only an earlier head reveals it.',
    )
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      await withAudit(globals(cmd), async (audit, witnessed) => {
        const result = audit.verify();
        // A log put back from an older copy, or deleted whole, verifies on its own: only a head a
        // paired device kept can tell (MagnetarMesh's witnessed checkpoints).
        const witness = witnessed?.();
        if (opts.json) process.stdout.write(JSON.stringify(witness === undefined ? result : { ...result, witness }) + '\n');
        else {
          process.stdout.write(formatVerify(result) + '\n');
          if (witness !== undefined) process.stdout.write(formatWitness(witness) + '\n');
        }
        if (!result.ok) {
          const where = result.firstBadEntry === undefined ? '' : ` at entry #${result.firstBadEntry}`;
          throw new ElohimError('AUDIT_CHAIN_BROKEN', `the audit log failed verification${where}`);
        }
        if (witness !== undefined && !witness.ok) {
          throw new ElohimError('AUDIT_CHAIN_BROKEN', `the audit log does not match what a paired device witnessed: ${witness.problem ?? 'it differs'}`);
        }
      });
    });
}

function exportCommand(withAudit: WithAudit): Command {
  return new Command('export')
    .description('write the audit log as JSON Lines, oldest first (plaintext: keep it safe)')
    .option('-o, --output <file>', 'host file (default: standard output)')
    .option('-f, --force', 'overwrite the host file')
    .action(async (opts: { output?: string; force?: boolean }, cmd: Command) => {
      await withAudit(globals(cmd), async (audit) => {
        let n = 0;
        const lines = (function* () {
          for (const line of audit.exportJsonl()) {
            n++;
            yield line;
          }
        })();
        if (opts.output === undefined) {
          for (const line of lines) if (!process.stdout.write(line)) await once(process.stdout, 'drain');
          return;
        }
        await writeLines(lines, resolve(opts.output), opts.force === true);
        process.stderr.write(`${n} audit entries written to ${opts.output}\n`);
      });
    });
}

/** `elohim audit ls|verify|export`: the unlocked vault's own audit log. */
export function auditCommand(withAudit: WithAudit = withUnlockedAudit): Command {
  return new Command('audit')
    .description("list, verify or export this vault's tamper-evident audit log")
    .addCommand(lsCommand(withAudit))
    .addCommand(verifyCommand(withAudit))
    .addCommand(exportCommand(withAudit));
}
