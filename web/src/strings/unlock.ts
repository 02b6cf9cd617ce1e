import { makeT } from '../i18n.ts';

// The unlock screen. Names the browser tests look for: web/UI-CONTRACT.md ("Unlock").
const en = {
  title: 'Unlock',
  intro: 'Your vault is locked. Enter your passphrase to open it.',
  introRecovery: 'Enter one of the recovery codes you saved when you created the vault.',
  passphrase: 'Passphrase',
  recoveryCode: 'Recovery code',
  'recoveryCode.hint': '24 letters and digits, like ABCD-EFGH-JKMN-PQRS-TVWX-YZ01. Dashes and case do not matter.',
  unlock: 'Unlock',
  unlocking: 'Unlocking…',
  useRecovery: 'Use a recovery code',
  usePassphrase: 'Use a passphrase',
  'error.empty': 'Enter your passphrase.',
  'error.emptyCode': 'Enter a recovery code.',
  'error.wrong': 'That passphrase is not right. Check Caps Lock and try again.',
  'error.wrongCode': 'That recovery code is not right. Check it and try again.',
  'error.badCode': 'That does not look like a recovery code: {message}',
  wait: 'Too many failed attempts. Try again in {n} s',
  'error.other': 'The vault could not be unlocked: {message}',
  recoveredNotice: 'You unlocked with a recovery code. If you have forgotten your passphrase, choose a new one: elohim passwd --recovery.',
};

export const t = makeT(en);
