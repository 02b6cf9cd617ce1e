import type { FastifyInstance } from 'fastify';
import { SETTINGS_PATCH_SCHEMA } from '../../settings/index.ts';
import type { Settings, SettingsStore } from '../../settings/index.ts';
import { KDF_COSTS } from '../../keyring/index.ts';
import type { Home } from '../../vault/index.ts';
import type { KdfCost } from '../../keyring/index.ts';
import { authOf } from '../server.ts';

const settingsSchema = {
  type: 'object',
  properties: {
    autoLockMinutes: { type: 'integer' },
    logLevel: { type: 'string' },
    port: { type: 'integer' },
    kdfCost: { type: 'string' },
    dataFolder: { type: 'string' },
  },
} as const;

// The Argon2 cost lives in keyslots.bin's header, beside the slots it governs, not in
// config.json: a restored config must not be able to weaken or strengthen it behind the slots.
const patchSchema = {
  ...SETTINGS_PATCH_SCHEMA,
  properties: { ...SETTINGS_PATCH_SCHEMA.properties, kdfCost: { type: 'string', enum: [...KDF_COSTS] } },
} as const;

type SettingsChange = Partial<Settings> & { kdfCost?: KdfCost };

/** General and power-user settings: read, and change with validation (persisted at once). */
export async function settingsRoutes(
  app: FastifyInstance,
  opts: { settings: SettingsStore; home: Home; onChange?: (changed: string[], req: unknown) => void },
): Promise<void> {
  const view = (settings: Settings, kdfCost: KdfCost) => ({ ...settings, kdfCost, dataFolder: opts.home.dir });

  app.get('/api/v1/settings', {
    schema: { response: { 200: settingsSchema } },
    handler: async () => view(await opts.settings.read(), await opts.home.kdfCost()),
  });

  app.patch('/api/v1/settings', {
    schema: { body: patchSchema, response: { 200: settingsSchema } },
    handler: async (req) => {
      const { kdfCost, ...rest } = req.body as SettingsChange;
      const changed: string[] = [];
      // config.json first: it validates everything else, so a bad value changes nothing.
      const result = Object.keys(rest).length > 0 ? await opts.settings.update(rest) : { settings: await opts.settings.read(), changed: [] };
      changed.push(...result.changed);
      const cost = await opts.home.kdfCost();
      if (kdfCost !== undefined && kdfCost !== cost) {
        await opts.home.setKdfCost(kdfCost);
        changed.push('kdfCost');
      }
      if (changed.length > 0) opts.onChange?.(changed, authOf(req));
      return view(result.settings, kdfCost ?? cost);
    },
  });
}
