import { makeT } from '../i18n.ts';

// First run: choosing the passphrase, the optional decoy and the recovery codes shown once.
// The names the browser tests look for are in web/UI-CONTRACT.md ("First run").
const en = {
  title: 'Create your vault',
  intro:
    'Your vault is encrypted with a key made from your passphrase. Nobody can reset it for you: if you forget it and lose your recovery codes, your files are gone for good.',
  passphrase: 'Passphrase',
  'passphrase.hint': 'Use a long phrase of several unrelated words: easy for you to remember, hard to guess.',
  repeat: 'Repeat passphrase',
  show: 'Show passphrases',

  strength: 'Passphrase strength',
  'strength.loading': 'Loading the strength checker…',
  'strength.empty': 'Type a passphrase to see how strong it is.',
  'score.0': 'Very weak',
  'score.1': 'Weak',
  'score.2': 'Fair',
  'score.3': 'Good',
  'score.4': 'Strong',
  'strength.crack': 'Guessing it would take an attacker about {time}.',

  decoy: 'Add a decoy vault',
  'decoy.hint':
    'A second vault opened by a second passphrase. Put some believable files in it; if someone forces you to unlock, give the decoy passphrase. Someone holding it finds nothing in the decoy, its key slots or the file times that points to another vault; only how much data the decoy does not account for, and how it was written (many files at once, very large ones), could make them suspect one.',
  decoyPassphrase: 'Decoy passphrase',
  decoyRepeat: 'Repeat decoy passphrase',

  reserve: 'Keep everything in a deniable store of a fixed size',
  'reserve.hint':
    'Sets aside this much disk now, filled with random bytes, and keeps every vault inside it: someone holding one passphrase sees a file of that size whatever the other vault holds. It costs the whole size on disk from the start, and filling it takes time (about 10 to 15 seconds per GB on a small laptop). Cloud backup and shared folders do not work with it yet; a copy of the folder is the whole size. Every vault gets half. It cannot be changed later.',
  reserveSize: 'Size (for example 32G or 500M)',
  'error.reserveSize': 'Give the size as a number and a unit, for example 32G or 500M (at least 8M).',

  create: 'Create vault',
  creating: 'Creating your vault…',
  'creating.hint': 'Turning your passphrase into a key takes a few seconds on purpose: it makes guessing slow.',

  'error.empty': 'Choose a passphrase.',
  'error.mismatch': 'The two passphrases are not the same.',
  'error.weak': 'This passphrase is too easy to guess ({verdict}). Choose one rated at least Good: add more unrelated words.',
  'error.short': 'The strength checker could not load, so the passphrase must be at least {n} characters long.',
  'error.decoyEmpty': 'Choose a decoy passphrase, or untick "Add a decoy vault".',
  'error.decoyMismatch': 'The two decoy passphrases are not the same.',
  'error.decoySame': 'The decoy passphrase must be different from your passphrase.',
  'error.decoyWeak': 'The decoy passphrase is too easy to guess ({verdict}). Choose one rated at least Good.',
  'error.exists': 'This device already has a vault. Reload the page to unlock it.',
  'error.other': 'The vault could not be created: {message}',

  codesTitle: 'Your recovery codes',
  codesIntro:
    'Each code opens your vault if you forget your passphrase. They are shown only this once: download or print them now and keep them somewhere safe, away from this device.',
  codesList: 'Recovery codes',
  decoyCodesList: 'Decoy recovery codes',
  codesCaption: 'Your vault',
  decoyCodesCaption: 'Decoy vault',
  decoyCodesIntro:
    'Keep the decoy codes apart from your own: a paper or file that lists both shows whoever finds it that there are two vaults. The download and each printed page hold one vault\'s codes only, and do not say which vault they open.',
  download: 'Download codes',
  downloadDecoy: 'Download decoy codes',
  print: 'Print',
  saved: 'I saved my recovery codes',
  continue: 'Continue',
  unlocking: 'Opening your vault…',
  'continue.failed': 'Your vault was created but could not be opened: {message}',
  fileTitle: 'ElohimOS recovery codes',
  fileText: 'Each code opens the vault if the passphrase is forgotten. Keep them secret.',
  fileName: 'elohim-recovery-codes.txt',
  decoyFileName: 'elohim-recovery-codes-2.txt',
};

export const t = makeT(en);
export type ScoreKey = 'score.0' | 'score.1' | 'score.2' | 'score.3' | 'score.4';
