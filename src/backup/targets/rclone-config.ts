/**
 * Reads an rclone config file's content (INI: `[remote]` sections of `key = value`) into
 * sections, to hand rclone as RCLONE_CONFIG_<REMOTE>_<KEY> variables. Pure text in, maps out.
 *
 * Refused, with a message the user can act on: an encrypted config (rclone's own
 * RCLONE_ENCRYPT_V0: it needs its password, which we would have to keep too; the vault already
 * seals the config), and remote or key names that cannot be carried in a variable name.
 */
import { ElohimError } from '../../errors.ts';

const MAX_CONFIG = 1024 * 1024;

/** Sections by lower-case remote name (rclone matches remote names without case through variables). */
export function parseRcloneConfig(text: string): Map<string, Map<string, string>> {
  if (text.length > MAX_CONFIG) throw new ElohimError('INVALID_INPUT', 'the rclone config is larger than 1 MiB');
  if (text.includes('\0')) throw new ElohimError('INVALID_INPUT', 'the rclone config has a NUL character');
  if (/^\s*RCLONE_ENCRYPT_V\d/m.test(text)) {
    throw new ElohimError('INVALID_INPUT', 'the rclone config is encrypted: give it unencrypted (the vault seals it), e.g. `rclone config show`');
  }
  const sections = new Map<string, Map<string, string>>();
  let current: Map<string, string> | null = null;
  for (const [i, raw] of text.split(/\r?\n/).entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const section = /^\[([^\]]*)\]$/.exec(line);
    if (section) {
      const name = section[1]!.trim();
      if (!/^[A-Za-z0-9_-]{1,64}$/.test(name)) {
        throw new ElohimError('INVALID_INPUT', `rclone config line ${i + 1}: remote names here may use letters, digits, _ and - only (rename it with rclone config)`);
      }
      if (sections.has(name.toLowerCase())) throw new ElohimError('INVALID_INPUT', `rclone config line ${i + 1}: the remote ${name} is there twice`);
      current = new Map();
      sections.set(name.toLowerCase(), current);
      continue;
    }
    const eq = line.indexOf('=');
    if (eq <= 0 || current === null) throw new ElohimError('INVALID_INPUT', `rclone config line ${i + 1} is neither a [remote] nor key = value under one`);
    const key = line.slice(0, eq).trim();
    if (!/^[A-Za-z0-9_]{1,64}$/.test(key)) throw new ElohimError('INVALID_INPUT', `rclone config line ${i + 1}: ${JSON.stringify(key.slice(0, 40))} is not an rclone option name`);
    current.set(key.toLowerCase(), line.slice(eq + 1).trim());
  }
  for (const [name, keys] of sections) if (!keys.has('type')) throw new ElohimError('INVALID_INPUT', `the rclone remote ${name} has no type`);
  return sections;
}
