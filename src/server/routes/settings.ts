import type { FastifyInstance } from 'fastify';
import { SETTINGS_PATCH_SCHEMA } from '../../settings/index.ts';
import type { Settings, SettingsStore } from '../../settings/index.ts';
import type { Home } from '../../vault/index.ts';
import { authOf } from '../server.ts';

const settingsSchema = {
  type: 'object',
  properties: {
    autoLockMinutes: { type: 'integer' },
    logLevel: { type: 'string' },
    port: { type: 'integer' },
    dataFolder: { type: 'string' },
  },
} as const;

/** General and power-user settings: read, and change with validation (persisted at once). */
export async function settingsRoutes(app: FastifyInstance, opts: { settings: SettingsStore; home: Home; onChange?: (changed: (keyof Settings)[], req: unknown) => void }): Promise<void> {
  app.get('/api/v1/settings', {
    schema: { response: { 200: settingsSchema } },
    handler: async () => ({ ...(await opts.settings.read()), dataFolder: opts.home.dir }),
  });

  app.patch('/api/v1/settings', {
    schema: { body: SETTINGS_PATCH_SCHEMA, response: { 200: settingsSchema } },
    handler: async (req) => {
      const { settings, changed } = await opts.settings.update(req.body as Partial<Settings>);
      if (changed.length > 0) opts.onChange?.(changed, authOf(req));
      return { ...settings, dataFolder: opts.home.dir };
    },
  });
}
