/**
 * A vault's choice of model provider and models (the sealed `config` record, store/records.ts):
 * the view the faces show, a change checked before it is kept, and the provider a choice makes.
 * A provider off this device needs the user's opt-in: building it (providers/http.ts
 * checkBaseUrl) refuses one without, so nothing is kept that could not be used.
 */
import { ElohimError } from '../errors.ts';
import { isLoopback } from './providers/http.ts';
import { createOllamaProvider } from './providers/ollama.ts';
import { createOpenAiProvider } from './providers/openai.ts';
import type { ModelProvider } from './providers/provider.ts';
import type { ConfigRecord, ProviderChoice } from './store/records.ts';

export type AssistantConfig = Omit<ConfigRecord, 't' | 'v'>;

export interface ProviderSettings {
  provider: { kind: ProviderChoice['kind']; baseUrl: string | null; local: boolean; allowRemote: boolean; hasApiKey: boolean } | null;
  chatModel: string | null;
  embeddingModel: string | null;
}

export interface ProviderChange {
  provider?: { kind: ProviderChoice['kind']; baseUrl?: string; allowRemote?: boolean; apiKey?: string } | null;
  chatModel?: string | null;
  embeddingModel?: string | null;
}

const MODEL_NAME = /^[^\u0000-\u001f\u007f]{1,256}$/;

/**
 * The provider a choice makes; null for none. Throws INVALID_INPUT for an address that is not
 * http(s), one on another machine without the opt-in, or the embedded model where this build has none.
 */
export function providerFrom(choice: ProviderChoice | null, embedded: (() => ModelProvider) | undefined): ModelProvider | null {
  if (choice === null) return null;
  const config = { baseUrl: choice.baseUrl ?? '', allowRemote: choice.allowRemote, ...(choice.apiKey ? { apiKey: choice.apiKey } : {}) };
  if (choice.kind === 'ollama') return createOllamaProvider(config);
  if (choice.kind === 'openai') return createOpenAiProvider(config);
  if (embedded === undefined) throw new ElohimError('INVALID_INPUT', 'this build has no embedded model runtime');
  return embedded();
}

/** What the faces show (the API key never: only whether there is one). */
export function settingsView(c: AssistantConfig): ProviderSettings {
  const p = c.provider;
  return {
    provider: p === null ? null : { kind: p.kind, baseUrl: p.baseUrl ?? null, local: p.kind === 'embedded' || isLocal(p.baseUrl), allowRemote: p.allowRemote, hasApiKey: Boolean(p.apiKey) },
    chatModel: c.chatModel,
    embeddingModel: c.embeddingModel,
  };
}

/** `old` with `change` applied, checked. Throws INVALID_INPUT (see providerFrom; a bad model name). */
export function changedConfig(old: AssistantConfig, change: ProviderChange, embedded: (() => ModelProvider) | undefined): AssistantConfig {
  const next = { ...old };
  if (change.provider !== undefined) {
    if (change.provider === null) next.provider = null;
    else {
      const { kind, baseUrl, allowRemote, apiKey } = change.provider;
      if (kind !== 'ollama' && kind !== 'openai' && kind !== 'embedded') throw new ElohimError('INVALID_INPUT', 'a provider is ollama, openai or embedded');
      if (kind !== 'embedded' && (typeof baseUrl !== 'string' || baseUrl === '')) throw new ElohimError('INVALID_INPUT', `a ${kind} provider needs its address (baseUrl)`);
      const choice: ProviderChoice = { kind, allowRemote: allowRemote === true };
      if (kind !== 'embedded') choice.baseUrl = baseUrl;
      if (apiKey !== undefined && apiKey !== '') choice.apiKey = apiKey;
      // building it checks the address and the remote opt-in before anything is kept
      providerFrom(choice, embedded);
      next.provider = choice;
    }
  }
  for (const key of ['chatModel', 'embeddingModel'] as const) {
    const value = change[key];
    if (value === undefined) continue;
    if (value !== null && (typeof value !== 'string' || !MODEL_NAME.test(value))) throw new ElohimError('INVALID_INPUT', `${key} must be a model name`);
    next[key] = value;
  }
  return next;
}

function isLocal(baseUrl: string | undefined): boolean {
  try {
    return baseUrl !== undefined && isLoopback(new URL(baseUrl));
  } catch (err) {
    if (err instanceof TypeError) return false; // not a URL: it could not be used anyway
    throw err;
  }
}
