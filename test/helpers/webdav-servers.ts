/**
 * Real WebDAV servers for the backup target tests, started on 127.0.0.1 on a free port:
 * - `rclone serve webdav` (Debian's rclone) over a temp folder;
 * - Apache httpd with mod_dav and mod_dav_fs (Debian's apache2), the strict one: its own config
 *   file in a temp folder, its own pid file and logs, basic auth from its own password file. It
 *   runs as root's child with workers as www-data, so the DAV folder is handed to www-data.
 * Each is started in its own process group, so `kill()` ends the server and its workers by id.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, chown, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface DavServer {
  kind: 'rclone' | 'apache';
  /** the collection URL, ending with a slash */
  url: string;
  port: number;
  user: string;
  pass: string;
  /** the folder on disk behind the collection */
  dir: string;
  /** ends the server at once (SIGKILL to its process group) */
  kill(): Promise<void>;
  /** starts it again on the same port and folder */
  restart(): Promise<void>;
  /** kills it and removes its folders */
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

async function waitForPort(port: number, child: ChildProcess, log: () => Promise<string>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`the server exited (${child.exitCode}): ${await log()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1', () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`the server did not listen on ${port} in time: ${await log()}`);
}

function killGroup(child: ChildProcess | null): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      resolve();
    }
  });
}

/** `rclone serve webdav` of a temp folder with basic auth. */
export async function startRcloneWebdav(opts: { user?: string; pass?: string } = {}): Promise<DavServer> {
  const user = opts.user ?? 'backup';
  const pass = opts.pass ?? 'rclone secret';
  const home = await mkdtemp(join(tmpdir(), 'elohim-rclone-dav-'));
  const dir = join(home, 'data');
  await mkdir(dir);
  await writeFile(join(home, 'rclone.conf'), '');
  const port = await freePort();
  let child: ChildProcess | null = null;
  const logFile = join(home, 'rclone.log');
  const start = async () => {
    child = spawn('rclone', ['serve', 'webdav', dir, '--addr', `127.0.0.1:${port}`, '--user', user, '--pass', pass, '--log-file', logFile], {
      detached: true,
      stdio: 'ignore',
      env: { ...process.env, RCLONE_CONFIG: join(home, 'rclone.conf') },
    });
    await waitForPort(port, child, () => readFile(logFile, 'utf8').catch(() => ''));
  };
  await start();
  return {
    kind: 'rclone',
    url: `http://127.0.0.1:${port}/`,
    port,
    user,
    pass,
    dir,
    kill: () => killGroup(child),
    restart: start,
    async stop() {
      await killGroup(child);
      await rm(home, { recursive: true, force: true });
    },
  };
}

const MODULES = '/usr/lib/apache2/modules';

/** Apache httpd with mod_dav_fs serving /dav/ from a temp folder, basic auth, its own config. */
export async function startApacheDav(opts: { user?: string; pass?: string; dir?: string } = {}): Promise<DavServer> {
  const user = opts.user ?? 'backup';
  const pass = opts.pass ?? 'apache secret';
  const home = await mkdtemp(join(tmpdir(), 'elohim-apache-dav-'));
  const dir = opts.dir ?? join(home, 'dav');
  await mkdir(dir, { recursive: true });
  await mkdir(join(home, 'run'));
  await mkdir(join(home, 'lock'));
  // {SHA} is one of mod_authn_file's formats; the test does not need a slow hash.
  await writeFile(join(home, 'htpasswd'), `${user}:{SHA}${createHash('sha1').update(pass).digest('base64')}\n`);
  const port = await freePort();
  const mods = ['mpm_event', 'authz_core', 'authn_core', 'authn_file', 'authz_user', 'auth_basic', 'alias', 'dav', 'dav_fs'];
  const conf = [
    `ServerRoot "${home}"`,
    `ServerName 127.0.0.1`,
    `Listen 127.0.0.1:${port}`,
    `PidFile "${home}/run/httpd.pid"`,
    `DefaultRuntimeDir "${home}/run"`,
    `Mutex file:${home}/run`,
    `ErrorLog "${home}/error.log"`,
    `LogLevel warn`,
    ...mods.map((m) => `LoadModule ${m}_module ${MODULES}/mod_${m}.so`),
    'User www-data',
    'Group www-data',
    'StartServers 1',
    'ServerLimit 2',
    'ThreadsPerChild 16',
    'MaxRequestWorkers 32',
    // Big packs go up in one PUT (the default is unlimited; said here so it is not a surprise).
    'LimitRequestBody 0',
    `DavLockDB "${home}/lock/DavLock"`,
    `DocumentRoot "${home}/empty"`,
    `Alias /dav "${dir}"`,
    `<Directory "${dir}">`,
    '  Dav On',
    '  AuthType Basic',
    '  AuthName "backup"',
    `  AuthUserFile "${home}/htpasswd"`,
    '  Require valid-user',
    '</Directory>',
  ].join('\n');
  await mkdir(join(home, 'empty'));
  await writeFile(join(home, 'httpd.conf'), conf + '\n');
  // Workers run as www-data: they write the DAV folder and the lock database.
  const { uid, gid } = await wwwData();
  await chown(dir, uid, gid);
  await chown(join(home, 'lock'), uid, gid);
  // mkdtemp makes the folder 0700: www-data must be able to pass through it to the DAV folder.
  await chmod(home, 0o711);
  let child: ChildProcess | null = null;
  const start = async () => {
    child = spawn('/usr/sbin/apache2', ['-f', join(home, 'httpd.conf'), '-DFOREGROUND'], { detached: true, stdio: 'ignore' });
    await waitForPort(port, child, () => readFile(join(home, 'error.log'), 'utf8').catch(() => ''));
  };
  await start();
  return {
    kind: 'apache',
    url: `http://127.0.0.1:${port}/dav/`,
    port,
    user,
    pass,
    dir,
    kill: () => killGroup(child),
    restart: start,
    async stop() {
      await killGroup(child);
      await rm(home, { recursive: true, force: true });
    },
  };
}

async function wwwData(): Promise<{ uid: number; gid: number }> {
  const line = (await readFile('/etc/passwd', 'utf8')).split('\n').find((l) => l.startsWith('www-data:'));
  if (!line) throw new Error('no www-data user (is apache2 installed?)');
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}
