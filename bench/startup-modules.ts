/**
 * A preload (`node --import ./bench/startup-modules.ts`) that lists every module the process
 * loads, ES or CommonJS, source or package or built-in, and writes them one per line to the file
 * named by ELOHIM_MODULE_LIST when the process exits. bench/startup.ts counts them and
 * test/cli-startup.test.ts checks which domains a command loads. Module hooks (Node 22.15+) see
 * both `import` and `require`, so a package loaded either way is counted.
 */
import { writeFileSync } from 'node:fs';
import { registerHooks } from 'node:module';

const out = process.env.ELOHIM_MODULE_LIST;
if (out !== undefined && out !== '') {
  const seen = new Set<string>();
  registerHooks({
    load(url, context, next) {
      seen.add(url);
      return next(url, context);
    },
  });
  process.on('exit', () => writeFileSync(out, [...seen].map((u) => `${u}\n`).join('')));
}
