import type { RecordId } from '../db/index.ts';
import { processAlive } from '../fs/index.ts';
import type { ObjectId } from './objects/index.ts';
import type { IntentRecord } from './kinds.ts';
import type { VaultCore } from './core.ts';

/** How long an intent of a process that still seems alive is left alone (a reused pid after a reboot). */
const LIVE_INTENT_MS = 7 * 24 * 3600 * 1000;
/** Temp files older than this are a crash's leftovers (they hold only ciphertext). */
const TEMP_MAX_AGE_MS = 24 * 3600 * 1000;

/** Finishes or undoes work a crash interrupted: deletes the objects of dead intents that no item uses. */
export async function recover(core: VaultCore, intents: Map<RecordId, IntentRecord>): Promise<void> {
  const { tree, records, objects, clock } = core;
  const used = new Set<ObjectId>();
  for (const item of tree.all()) if (item.object) used.add(item.object);
  for (const [id, intent] of intents) {
    // A live process may still be writing it (this one included: its vaults are shared, see
    // app.ts); a pid reused after a reboot only delays the cleanup by a week.
    if (processAlive(intent.pid) && clock() - intent.at < LIVE_INTENT_MS) continue;
    for (const object of intent.objects) if (!used.has(object)) await objects.remove(object);
    records.commit({ remove: [id] });
    intents.delete(id);
  }
  await objects.cleanTemp(TEMP_MAX_AGE_MS, clock());
}
