import { makeT } from '../i18n.ts';

// Every string of the settings modal. The tab names and the names the browser tests look for
// (web/UI-CONTRACT.md, "Settings") must not change without the tests.
const en = {
  title: 'Settings',
  close: 'Close',
  tabs: 'Settings sections',
  loading: 'Loading…',
  loadFailed: 'This section could not be loaded ({message}). Reload the page to try again.',

  'tab.general': 'General',
  'tab.power': 'Power user',
  'tab.danger': 'Danger zone',
  'tab.audit': 'Audit logs',

  save: 'Save',
  saving: 'Saving…',
  saved: 'Saved',

  theme: 'Theme',
  'theme.light': 'Light',
  'theme.dark': 'Dark',
  'theme.system': 'System',
  'theme.hint': 'Applies at once, to this browser only.',
  autoLock: 'Auto-lock after (minutes)',
  'autoLock.hint': 'The vault locks itself after this many minutes without activity (1 to 1440).',
  'autoLock.invalid': 'Auto-lock must be a whole number of minutes from 1 to 1440.',

  port: 'Port',
  'port.hint': 'The port the server listens on (1024 to 65535). A new port takes effect when the server is restarted.',
  'port.invalid': 'The port must be a whole number from 1024 to 65535.',
  kdfCost: 'Argon2 cost',
  'kdfCost.standard': 'Standard — 64 MiB',
  'kdfCost.strong': 'Strong — 256 MiB',
  'kdfCost.maximum': 'Maximum — 1 GiB',
  'kdfCost.hint':
    'How much memory and time turning your passphrase into a key takes. A higher cost makes guessing your passphrase far slower for an attacker, and also slows each unlock on this device. It applies from your next unlock.',
  logLevel: 'Log level',
  'logLevel.fatal': 'Fatal',
  'logLevel.error': 'Error',
  'logLevel.warn': 'Warning',
  'logLevel.info': 'Info',
  'logLevel.debug': 'Debug',
  'logLevel.hint': 'How much the server writes to its log. Logs never contain file names or contents.',
  dataFolder: 'Data folder',
  'dataFolder.hint': 'Where this device keeps the encrypted vault. Set ELOHIM_HOME before starting the server to use another folder.',

  'panic.heading': 'Lock everything now',
  'panic.text':
    'Locks every vault on this device at once and ends every session, in every browser and app. Nothing is deleted: you can unlock again with your passphrase. The Panic button and Ctrl+Shift+L do the same from anywhere.',
  'panic.button': 'Lock everything now',
  'shred.heading': 'Destroy all data',
  'shred.text':
    'Destroys the keys of every vault on this device, including any decoy vault. The encrypted files stay on the disk but can never be decrypted again, by anyone: not with your passphrase, not with your recovery codes, not by us. This cannot be undone.',
  'shred.confirm': 'Type {phrase} to confirm',
  'shred.button': 'Destroy all data',
  'decoy.heading': 'Decoy vault',
  'decoy.text':
    'Removes the decoy vault and its files: its passphrase and recovery codes stop working. Your own vault and its files are not touched.',
  'decoy.checking': 'Checking for a decoy vault…',
  'decoy.none': 'No decoy vault',
  'decoy.button': 'Remove decoy vault',
  'decoy.dialog': 'Remove decoy vault?',
  'decoy.dialogText': 'The decoy vault and everything in it will be removed for good. This cannot be undone.',
  'decoy.remove': 'Remove',
  'decoy.cancel': 'Cancel',
  'decoy.removed': 'Decoy vault removed',

  'audit.event': 'Event',
  'audit.allEvents': 'All events',
  'audit.table': 'Audit log',
  'audit.time': 'Time',
  'audit.eventColumn': 'Event',
  'audit.details': 'Details',
  'audit.empty': 'No entries',
  'audit.range': 'Entries {from}–{to} of {total}',
  'audit.previous': 'Previous',
  'audit.next': 'Next',
  'audit.verify': 'Verify chain',
  'audit.verifying': 'Verifying…',
  'audit.intact': 'Chain intact: {n} entries',
  'audit.broken': 'Chain broken at entry {n}',
  'audit.brokenUnknown': 'Chain broken',
  'audit.export': 'Export',
  'audit.hint':
    'Every entry is sealed and commits to the one before it, so "Verify chain" finds any entry that was edited, removed or reordered. Export saves the log as JSON Lines, oldest first.',

  'event.setup': 'Setup',
  'event.unlock': 'Unlock',
  'event.unlock-failed': 'Unlock failed',
  'event.lock': 'Lock',
  'event.auto-lock': 'Auto-lock',
  'event.panic': 'Panic',
  'event.passphrase-change': 'Passphrase change',
  'event.recovery-code-use': 'Recovery code used',
  'event.download': 'Download',
  'event.delete': 'Delete',
  'event.empty-trash': 'Empty trash',
  'event.settings-change': 'Settings change',
  'event.share': 'Share',
  'event.backup': 'Backup',
  'event.restore': 'Restore',
  'event.pairing': 'Pairing',
};

export const t = makeT(en);
export type StringKey = keyof typeof en;
