import { lazy } from 'react';
import { LazySection } from '../components/LazySection.tsx';
import type { ReactNode } from 'react';
import { t } from './strings-nav.ts';
import './nav.css';

// What the app shell imports statically for Chat: the section switch and the lazy screen. The
// screen itself (ChatScreen.tsx and everything under it) is its own chunk, fetched the first time
// Chat opens, so a visit that never chats pays only for this file.

export type Section = 'files' | 'chat';

/** The Chat screen's chunk; calling it early (hover) only starts the fetch sooner. */
const loadChat = () => import('./ChatScreen.tsx');
const LazyChatScreen = lazy(loadChat);
const prefetch = () => void loadChat().catch(() => {});

/**
 * Files | Chat, under the header. `children` are more entries of the same switch (Devices), so
 * every section is in one navigation landmark.
 */
export function SectionNav({ section, onSection, children }: { section: Section; onSection: (s: Section) => void; children?: ReactNode }) {
  const item = (s: Section, label: string) => (
    <button
      type="button"
      className="section-link"
      aria-current={section === s ? 'page' : undefined}
      onClick={() => onSection(s)}
      onPointerEnter={s === 'chat' ? prefetch : undefined}
      onFocus={s === 'chat' ? prefetch : undefined}
    >
      {label}
    </button>
  );
  return (
    <nav className="section-nav" aria-label={t('sections')}>
      {item('files', t('files'))}
      {item('chat', t('chat'))}
      {children}
    </nav>
  );
}

export interface ChatSectionProps {
  active: boolean;
  settingsOpen: boolean;
  onOpenFile: (file: { id: string; path: string }) => void;
  onOpenSettings: () => void;
}

/**
 * The Chat screen once it has been opened: it stays mounted while the user looks at a cited file
 * (the conversation, an answer in flight and the draft survive), hidden.
 */
export function ChatSection({ active, settingsOpen, onOpenFile, onOpenSettings }: ChatSectionProps) {
  return (
    <LazySection active={active} loading={t('loading')} failed={(message) => t('loadFailed', { message })}>
      <LazyChatScreen active={active} settingsOpen={settingsOpen} onOpenFile={onOpenFile} onOpenSettings={onOpenSettings} />
    </LazySection>
  );
}
