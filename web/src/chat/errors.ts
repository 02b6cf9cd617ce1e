import { ApiError } from '../api.ts';
import { t } from './strings.ts';

/** What to tell the user when a chat or memory call failed. */
export function chatErrorText(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  if (!(err instanceof ApiError)) return t('error.other', { message });
  switch (err.code) {
    case 'AI_PROVIDER_UNREACHABLE':
    case 'AI_TIMEOUT':
      return t('error.unreachable', { message });
    case 'AI_CONTEXT_TOO_LARGE':
      return t('error.tooLarge', { message });
    case 'AI_MODEL_NOT_FOUND':
      return t('error.model', { message });
    default:
      return t('error.other', { message });
  }
}

/** Whether the error is the end of the session (the app is already on its way to Unlock). */
export function isSessionEnd(err: unknown): boolean {
  return err instanceof ApiError && err.code === 'SESSION_REQUIRED';
}

/** Whether `err` is our own abort (Stop, leaving the screen), not a failure. */
export function isAbort(err: unknown): boolean {
  return err instanceof DOMException && err.name === 'AbortError';
}
