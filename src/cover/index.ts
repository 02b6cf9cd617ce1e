/**
 * Cover: what every data folder does so that it looks the same whether or not a hidden vault
 * exists — chaff rows and objects no vault accounts for, and maintenance in every process that
 * keeps file times from telling which vault wrote (ARCHITECTURE.md, deniability).
 */
export { createMaintenance } from './maintenance.ts';
export type { Maintenance, MaintenanceDeps } from './maintenance.ts';
export { PASS_OBJECT_CHANCE, PASS_ROWS, SEED_OBJECTS, SEED_ROWS } from './chaff.ts';
