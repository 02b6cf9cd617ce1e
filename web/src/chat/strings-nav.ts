import { makeT } from '../i18n.ts';

// The few strings of the section switch, apart from the Chat screen's own (strings.ts), which
// arrive with its chunk.
const en = {
  sections: 'Sections',
  files: 'Files',
  chat: 'Chat',
  loading: 'Loading…',
  loadFailed: 'Chat could not be loaded ({message}). Reload the page to try again.',
};

export const t = makeT(en);
