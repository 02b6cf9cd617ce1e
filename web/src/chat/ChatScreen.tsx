import { useCallback, useEffect, useRef, useState } from 'react';
import { ScreenHeading } from '../components/ScreenHeading.tsx';
import { chatApi } from './client.ts';
import type { AnswerEvent, Citation, Conversation, Message } from './client.ts';
import { StatusBanner, useAssistantStatus } from './ChatStatus.tsx';
import { Composer } from './Composer.tsx';
import { ConversationList } from './ConversationList.tsx';
import { isPartialAnswer, readAnswer, storedPartial } from './answer.ts';
import type { Live } from './answer.ts';
import { chatErrorText, isSessionEnd } from './errors.ts';
import { MemoryPanel } from './MemoryPanel.tsx';
import { t } from './strings.ts';
import { MessageView } from './Thread.tsx';
import type { AnswerInfo } from './Thread.tsx';
import './chat.css';

// The Chat screen, its own chunk (loaded the first time Chat is opened; see nav.tsx). It holds
// the conversation being read and the answer being streamed; the list, the thread's pieces and
// the memory panel are their own modules.

export interface ChatScreenProps {
  /** false while the vault browser is shown instead (the screen stays mounted, hidden) */
  active: boolean;
  /** whether Settings is open over the app: the provider and model may change there */
  settingsOpen: boolean;
  /** opens a cited vault file in the vault browser */
  onOpenFile: (file: { id: string; path: string }) => void;
  /** opens Settings (where the Models tab is) */
  onOpenSettings: () => void;
}

const SEARCH_DELAY_MS = 250;
/** A new conversation's title: the first words of its first message. */
const titleOf = (text: string) => {
  const line = text.trim().split('\n')[0]!.trim();
  return line.length > 60 ? line.slice(0, 57).trimEnd() + '…' : line;
};

export default function ChatScreen({ active, settingsOpen, onOpenFile, onOpenSettings }: ChatScreenProps) {
  const [conversations, setConversations] = useState<Conversation[] | null>(null);
  const [query, setQuery] = useState('');
  const [listReload, setListReload] = useState(0);
  const [selected, setSelected] = useState<string | null>(null);
  const [messages, setMessages] = useState<Message[]>([]);
  const [infos, setInfos] = useState<ReadonlyMap<string, AnswerInfo>>(new Map());
  const [live, setLive] = useState<Live | null>(null);
  const [draft, setDraft] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState('');
  /** said to screen readers only: the thread itself is not a live region (a token at a time would be noise) */
  const [said, setSaid] = useState('');
  /** the conversation just deleted, for Undo */
  const [undo, setUndo] = useState<Conversation | null>(null);
  const [memoryReload, setMemoryReload] = useState(0);
  const [showMemories, setShowMemories] = useState(false);
  const abort = useRef<AbortController | null>(null);
  const input = useRef<HTMLTextAreaElement>(null);
  const end = useRef<HTMLDivElement>(null);

  // Leaving the screen stops an answer in flight (its partial is kept by the server).
  useEffect(() => () => abort.current?.abort(), []);

  const { status, statusError, prefs, setPrefs, reloadStatus } = useAssistantStatus(active, settingsOpen);

  useEffect(() => {
    let live = true;
    const timer = setTimeout(
      () => {
        chatApi.conversations(query.trim()).then(
          ({ conversations: list }) => live && setConversations(list),
          (err: unknown) => live && !isSessionEnd(err) && setError(chatErrorText(err)),
        );
      },
      query === '' ? 0 : SEARCH_DELAY_MS,
    );
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [query, listReload]);

  // The conversation on screen, for work that finishes after the user moved to another one.
  const shown = useRef<string | null>(null);
  useEffect(() => {
    shown.current = selected;
  }, [selected]);

  /** Fetches a conversation's messages; shows them if it is still the one on screen. */
  const loadMessages = useCallback(async (id: string): Promise<Message[] | null> => {
    try {
      const { messages: list } = await chatApi.conversation(id);
      if (shown.current === id) setMessages(list);
      return list;
    } catch (err) {
      if (!isSessionEnd(err)) setError(chatErrorText(err));
      return null;
    }
  }, []);

  useEffect(() => {
    setMessages([]);
    if (selected !== null) void loadMessages(selected);
  }, [selected, loadMessages]);

  useEffect(() => {
    end.current?.scrollIntoView({ block: 'end' });
  }, [messages, live?.text]);

  /** Streams one answer (a new message, or Regenerate) into `live`, then shows what was stored. */
  async function run(conversation: string, userText: string | null, events: (signal: AbortSignal) => AsyncGenerator<AnswerEvent>) {
    const controller = new AbortController();
    abort.current = controller;
    setLive({ conversation, userText, text: '', info: {}, stopped: false });
    setError(null);
    setNotice('');
    setUndo(null);
    setSaid(t('thinking'));
    const outcome = await readAnswer(events(controller.signal), {
      onInfo: (info) => setLive((l) => (l === null ? l : { ...l, info })),
      onToken: (text) => setLive((l) => (l === null ? l : { ...l, text: l.text + text })),
      onMemories: (proposed) => {
        setMemoryReload((n) => n + 1);
        if (proposed.length > 0) setShowMemories(true);
      },
    });
    if (abort.current === controller) abort.current = null;
    if (outcome.stopped) {
      setNotice(t('stopped'));
      // What came stays on screen, marked, until the stored copy replaces it.
      setLive((l) => (l === null ? l : { ...l, stopped: true }));
    } else if (outcome.error !== null && !isSessionEnd(outcome.error)) setError(chatErrorText(outcome.error));
    // What the server stored (the user's message always, the answer whole or partial) replaces
    // what was streamed, so the thread shows exactly what is kept.
    let answerId = outcome.answerId;
    const list = outcome.stopped && outcome.text !== '' ? await storedPartial(() => loadMessages(conversation)) : await loadMessages(conversation);
    const last = list?.at(-1);
    if (answerId === null && outcome.stopped && isPartialAnswer(last)) answerId = last.id;
    if (answerId !== null) {
      const id = answerId;
      setInfos((before) => new Map(before).set(id, outcome.info));
    }
    setSaid(outcome.stopped ? '' : t('answered'));
    setLive(null);
    setListReload((n) => n + 1);
    setMemoryReload((n) => n + 1);
    reloadStatus();
    if (shown.current === conversation) input.current?.focus();
  }

  async function send() {
    const text = draft.trim();
    if (text === '' || live !== null) return;
    let conversation = selected;
    try {
      if (conversation === null) {
        conversation = (await chatApi.createConversation(titleOf(text))).conversation.id;
        setSelected(conversation);
      }
    } catch (err) {
      if (!isSessionEnd(err)) setError(chatErrorText(err));
      return;
    }
    setDraft('');
    const id = conversation;
    await run(id, text, (signal) => chatApi.ask(id, text, signal));
  }

  function regenerate() {
    if (selected === null || live !== null) return;
    const id = selected;
    void run(id, null, (signal) => chatApi.regenerate(id, signal));
  }

  const noModel = status !== null && !status.ready;
  // Stable, so the thread's messages (memo) do not render again for every streamed token.
  const openCitation = useCallback(
    (c: Citation) => {
      if (c.path !== null) onOpenFile({ id: c.item, path: c.path });
    },
    [onOpenFile],
  );
  const current = conversations?.find((c) => c.id === selected) ?? null;
  // Regenerate answers the last user message again: offered under the last message, whether
  // that is an answer or a question left without one (a provider that failed before answering).
  const last = messages.at(-1);
  const canRegenerate = live === null && !noModel;
  const streaming = live !== null && live.conversation === selected;

  return (
    <div className={showMemories ? 'chat with-memories' : 'chat'}>
      <ConversationList
        conversations={conversations}
        selected={selected}
        query={query}
        onQuery={setQuery}
        onSelect={(id) => {
          if (id === selected) return;
          abort.current?.abort();
          // Cleared at once: the other conversation's messages must not show under this title.
          setMessages([]);
          setSelected(id);
          setError(null);
          setNotice('');
          setUndo(null);
        }}
        onNew={() => {
          abort.current?.abort();
          setMessages([]);
          setSelected(null);
          setError(null);
          setNotice('');
          setUndo(null);
          input.current?.focus();
        }}
        onRestored={() => setListReload((n) => n + 1)}
        onRename={async (id, title) => {
          await chatApi.renameConversation(id, title);
          setListReload((n) => n + 1);
        }}
        onDelete={async (id) => {
          const title = conversations?.find((c) => c.id === id)?.title ?? '';
          if (id === selected) {
            abort.current?.abort();
            setSelected(null);
          }
          await chatApi.deleteConversation(id);
          setNotice(t('deleted', { title }));
          setUndo(conversations?.find((c) => c.id === id) ?? null);
          setListReload((n) => n + 1);
        }}
      />

      <section className="chat-main" aria-label={current?.title ?? t('heading')}>
        <div className="chat-head">
          {active ? <ScreenHeading focusKey={'chat:' + (selected ?? '')}>{current?.title ?? t('heading')}</ScreenHeading> : <h1>{current?.title ?? t('heading')}</h1>}
          <button type="button" className="button small" aria-expanded={showMemories} aria-controls="memory-panel" onClick={() => setShowMemories((s) => !s)}>
            {t('showMemories')}
          </button>
        </div>

        <StatusBanner status={status} error={statusError} onOpenSettings={onOpenSettings} />

        <ol className="thread" aria-label={t('thread')}>
          {messages.map((m) => (
            <MessageView
              key={m.id}
              message={m}
              info={infos.get(m.id)}
              onOpenSource={openCitation}
              onRegenerate={m === last && canRegenerate ? regenerate : undefined}
              regenerateLabel={m.role === 'user' ? t('answerAgain') : t('regenerate')}
            />
          ))}
          {streaming && live.userText !== null && <MessageView message={{ id: 'live-user', role: 'user', content: live.userText }} onOpenSource={openCitation} />}
          {streaming && (
            <MessageView
              message={{ id: 'live', role: 'assistant', content: live.text, ...(live.stopped ? { partial: true as const } : {}) }}
              info={live.info}
              streaming={!live.stopped}
              onOpenSource={openCitation}
            />
          )}
        </ol>
        {messages.length === 0 && !streaming && !noModel && <p className="muted chat-empty">{t('empty')}</p>}
        <div ref={end} />

        {/* Always in the page, so screen readers hear each change (stopped, deleted). */}
        <div className="chat-notice">
          <p className="notice" aria-live="polite">
            {notice}
          </p>
          {undo !== null && notice !== '' && (
            <button
              type="button"
              className="button small"
              onClick={() => {
                const back = undo;
                setUndo(null);
                chatApi.restoreConversation(back.id).then(
                  () => {
                    setNotice(t('restored', { title: back.title }));
                    setListReload((n) => n + 1);
                  },
                  (err: unknown) => !isSessionEnd(err) && setError(chatErrorText(err)),
                );
              }}
            >
              {t('undo')}
            </button>
          )}
        </div>
        <p className="sr-only" aria-live="polite">
          {said}
        </p>
        {error !== null && (
          <p role="alert" className="alert">
            {error}
          </p>
        )}

        <Composer
          ref={input}
          draft={draft}
          onDraft={setDraft}
          disabled={noModel}
          streaming={streaming}
          busy={live !== null}
          onSend={() => void send()}
          onStop={() => abort.current?.abort()}
        />
      </section>

      {showMemories && (
        <div id="memory-panel" className="chat-memories">
          <MemoryPanel
            reload={memoryReload}
            autoApprove={prefs?.autoApprove ?? false}
            onAutoApprove={async (on) => setPrefs(await chatApi.setPreferences({ autoApprove: on }))}
            propose={prefs?.proposeMemories ?? false}
            onPropose={async (on) => setPrefs(await chatApi.setPreferences({ proposeMemories: on }))}
            onOpenConversation={(id) => {
              if (id === selected) return;
              abort.current?.abort();
              setMessages([]);
              setSelected(id);
            }}
          />
        </div>
      )}
    </div>
  );
}

