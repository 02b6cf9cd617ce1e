/**
 * Where the tests find the tiny GGUF (../shared/data/models/llama-2-tiny-random, never copied into
 * the repository): ELOHIM_TEST_DATA, or ../shared/data beside the checkout. `missing` is the
 * reason to skip with, or false.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';

export const SHARED_DATA = process.env.ELOHIM_TEST_DATA ?? join(import.meta.dirname, '..', '..', '..', 'shared', 'data');
export const TINY_GGUF = join(SHARED_DATA, 'models', 'llama-2-tiny-random', 'llama-2-tiny-random.gguf');
/** from the data's README */
export const TINY_SHA256 = '81f226c62d28ed4a1a9b9fa080fcd9f0cc40e0f9d5680036583ff98fbcd035cb';
export const TINY_SIZE = 1_750_560;
export const tinyMissing: string | false = existsSync(TINY_GGUF) ? false : `test data not found: ${TINY_GGUF} (set ELOHIM_TEST_DATA)`;
