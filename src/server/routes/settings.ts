import type { FastifyInstance } from 'fastify';
import { SETTINGS_PATCH_SCHEMA } from '../../settings/index.ts';
import type { Settings, SettingsStore } from '../../settings/index.ts';
import { KDF_COSTS } from '../../keyring/index.ts';
import type { Keyring } from '../../keyring/index.ts';
import type { KdfCost } from '../../keyring/index.ts';
import { authOf } from '../auth.ts';
import { API } from '../protocol.ts';

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
  opts: { settings: SettingsStore; keyring: Keyring; dataFolder: string; onChange?: (changed: string[], req: unknown) => void },
): Promise<void> {
  const view = (settings: Settings, kdfCost: KdfCost) => ({ ...settings, kdfCost, dataFolder: opts.dataFolder });

  app.get(API.settings, {
    schema: { response: { 200: settingsSchema } },
    handler: async () => view(await opts.settings.read(), await opts.keyring.kdfCost()),
  });

  app.patch(API.settings, {
    schema: { body: patchSchema, response: { 200: settingsSchema } },
    handler: async (req) => {
      const { kdfCost, ...rest } = req.body as SettingsChange;
      const changed: string[] = [];
      // config.json first: it validates everything else, so a bad value changes nothing.
      const result = Object.keys(rest).length > 0 ? await opts.settings.update(rest) : { settings: await opts.settings.read(), changed: [] };
      changed.push(...result.changed);
      const cost = await opts.keyring.kdfCost();
      if (kdfCost !== undefined && kdfCost !== cost) {
        await opts.keyring.setKdfCost(kdfCost);
        changed.push('kdfCost');
      }
      if (changed.length > 0) opts.onChange?.(changed, authOf(req));
      return view(result.settings, kdfCost ?? cost);
    },
  });
}
