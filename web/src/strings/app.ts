import { makeT } from '../i18n.ts';

// The app shell: start-up, the header shown once unlocked, and messages shared by every screen.
const en = {
  appName: 'ElohimOS',
  skipToContent: 'Skip to content',
  loading: 'Loading…',
  unreachableTitle: 'The ElohimOS server cannot be reached',
  // first run: the way to src/backup's restore (screens/RestoreBackup.tsx)
  restoreOffer: 'Restore from a backup',
  restoreHint: 'Already use ElohimOS? Bring your data folder back from a backup.',
  unreachableText: 'Start it again (npm start, or elohim serve) and try again. Nothing is lost: your files stay encrypted on this device.',
  retry: 'Try again',

  lock: 'Lock',
  panic: 'Panic',
  settings: 'Settings',
  'lock.hint': 'Lock this vault',
  'panic.hint': 'Lock every vault at once (Ctrl+Shift+L)',
  'panic.failed': 'Panic could not reach the server: {message}. Close this window if you need to hide the screen.',
};

export const t = makeT(en);
