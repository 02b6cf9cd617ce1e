import { useCallback, useEffect, useRef, useState } from 'react';
import type { KeyboardEvent } from 'react';
import { Icon } from '../components/Icon.tsx';
import { ScreenHeading } from '../components/ScreenHeading.tsx';
import { chatApi } from './client.ts';
import type { AnswerEvent, AssistantStatus, Citation, Conversation, IndexStatus, Message, Preferences } from './client.ts';
import { ConversationList } from './ConversationList.tsx';
import { chatErrorText, isAbort, isSessionEnd } from './errors.ts';
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

/** The answer being streamed, shown under the messages until it is stored. */
interface Live {
  conversation: string;
  /** the user's message as typed (null for Regenerate) */
  userText: string | null;
  text: string;
  info: AnswerInfo;
  /** Stop was pressed: the text is what came before it */
  stopped: boolean;
}

const isPartialAnswer = (m: Message | undefined): m is Message => m !== undefined && m.role === 'assistant' && m.partial === true;

const SEARCH_DELAY_MS = 250;
/** A new conversation's title: the first words of its first message. */
const titleOf = (text: string) => {
  const line = text.trim().split('\n')[0]!.trim();
  return line.length > 60 ? line.slice(0, 57).trimEnd() + '…' : line;
};

export default function ChatScreen({ active, settingsOpen, onOpenFile, onOpenSettings }: ChatScreenProps) {
  const [status, setStatus] = useState<AssistantStatus | null>(null);
  const [statusError, setStatusError] = useState<string | null>(null);
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
  const [prefs, setPrefs] = useState<Preferences | null>(null);
  const abort = useRef<AbortController | null>(null);
  const input = useRef<HTMLTextAreaElement>(null);
  const end = useRef<HTMLDivElement>(null);

  // Leaving the screen stops an answer in flight (its partial is kept by the server).
  useEffect(() => () => abort.current?.abort(), []);

  // The provider and model can change in Settings, another tab or the CLI: asked again when this
  // screen is shown, when Settings closes, after every answer and when the page comes back into
  // view (not on a timer: an authenticated request counts as activity and would keep the vault
  // from locking itself).
  const [statusReload, setStatusReload] = useState(0);
  useEffect(() => {
    if (active && !settingsOpen) setStatusReload((n) => n + 1);
  }, [active, settingsOpen]);
  useEffect(() => {
    let live = true;
    Promise.all([chatApi.status(), chatApi.preferences()]).then(
      ([s, prefs]) => {
        if (!live) return;
        setStatus(s);
        setPrefs(prefs);
        setStatusError(null);
      },
      (err: unknown) => live && !isSessionEnd(err) && setStatusError(chatErrorText(err)),
    );
    return () => {
      live = false;
    };
  }, [statusReload]);
  useEffect(() => {
    const again = () => document.visibilityState === 'visible' && setStatusReload((n) => n + 1);
    document.addEventListener('visibilitychange', again);
    window.addEventListener('focus', again);
    return () => {
      document.removeEventListener('visibilitychange', again);
      window.removeEventListener('focus', again);
    };
  }, []);

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
    const info: AnswerInfo = {};
    setLive({ conversation, userText, text: '', info, stopped: false });
    setError(null);
    setNotice('');
    setUndo(null);
    setSaid(t('thinking'));
    let answerId: string | null = null;
    let streamed = '';
    let stopped = false;
    try {
      for await (const ev of events(controller.signal)) {
        if (ev.type === 'context') {
          info.report = ev.report;
          info.budget = ev.budget;
          info.citations = ev.citations;
          setLive((l) => (l === null ? l : { ...l, info: { ...info } }));
        } else if (ev.type === 'token') {
          streamed += ev.content;
          setLive((l) => (l === null ? l : { ...l, text: l.text + ev.content }));
        } else if (ev.type === 'done') {
          answerId = ev.message.id;
          info.promptTokens = ev.promptTokens;
          info.completionTokens = ev.completionTokens;
        } else if (ev.type === 'memories') {
          setMemoryReload((n) => n + 1);
          if (ev.proposed.length > 0) setShowMemories(true);
        }
      }
    } catch (err) {
      if (isAbort(err)) {
        stopped = true;
        setNotice(t('stopped'));
        // What came stays on screen, marked, until the stored copy replaces it.
        setLive((l) => (l === null ? l : { ...l, stopped: true }));
      } else if (!isSessionEnd(err)) setError(chatErrorText(err));
    } finally {
      abort.current = null;
    }
    // What the server stored (the user's message always, the answer whole or partial) replaces
    // what was streamed, so the thread shows exactly what is kept.
    let list = await loadMessages(conversation);
    if (stopped && streamed !== '') {
      // The server keeps a stopped answer once its call to the model has ended, a moment after
      // the connection closed: ask again briefly until it is there.
      for (let i = 0; i < 20 && list !== null && !isPartialAnswer(list.at(-1)); i++) {
        await new Promise((r) => setTimeout(r, 100));
        list = await loadMessages(conversation);
      }
      const last = list?.at(-1);
      if (isPartialAnswer(last)) answerId = last.id;
    }
    if (answerId !== null) {
      const id = answerId;
      setInfos((before) => new Map(before).set(id, { ...info }));
    }
    setSaid(stopped ? '' : t('answered'));
    setLive(null);
    setListReload((n) => n + 1);
    setMemoryReload((n) => n + 1);
    setStatusReload((n) => n + 1);
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

  function onKeyDown(event: KeyboardEvent<HTMLTextAreaElement>) {
    if (event.key === 'Enter' && !event.shiftKey && !event.nativeEvent.isComposing) {
      event.preventDefault();
      void send();
    }
  }

  const noModel = status !== null && !status.ready;
  const openCitation = (c: Citation) => {
    if (c.path !== null) onOpenFile({ id: c.item, path: c.path });
  };
  const current = conversations?.find((c) => c.id === selected) ?? null;
  const lastAnswer = [...messages].reverse().find((m) => m.role === 'assistant');
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

        {statusError !== null && (
          <p role="alert" className="alert">
            {statusError}
          </p>
        )}
        {noModel && (
          <div className="chat-state" role="status">
            <p className="empty-title">{t('noModel')}</p>
            {status.reason !== undefined && status.reason !== '' && !/no model yet/i.test(status.reason) && <p>{status.reason}</p>}
            <p className="hint">{t('noModel.hint')}</p>
            <button type="button" className="button primary" onClick={onOpenSettings}>
              <Icon name="settings" />
              <span>{t('openModels')}</span>
            </button>
          </div>
        )}
        {status?.provider != null && status.chatModel !== null && !status.provider.local && (
          <div className="chat-remote" role="note">
            <Icon name="alert" />
            <div>
              <p className="chat-remote-title">{t('remote', { url: status.provider.baseUrl ?? '' })}</p>
              <p className="hint">{t('remote.hint')}</p>
            </div>
          </div>
        )}
        {status?.provider != null && status.chatModel !== null && status.provider.local && <p className="hint chat-model">{t('local', { model: status.chatModel })}</p>}
        {status?.index !== undefined && !noModel && <IndexLine index={status.index} />}

        <ol className="thread" aria-label={t('thread')}>
          {messages.map((m) => (
            <MessageView
              key={m.id}
              message={m}
              info={infos.get(m.id)}
              onOpenSource={openCitation}
              onRegenerate={m === lastAnswer && live === null && !noModel ? regenerate : undefined}
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

        <form
          className="composer"
          onSubmit={(e) => {
            e.preventDefault();
            void send();
          }}
        >
          <label htmlFor="chat-message" className="sr-only">
            {t('message')}
          </label>
          <textarea
            id="chat-message"
            ref={input}
            className="textarea"
            rows={3}
            value={draft}
            placeholder={t('message.placeholder')}
            aria-describedby="chat-message-hint"
            disabled={noModel}
            onChange={(e) => setDraft(e.target.value)}
            onKeyDown={onKeyDown}
          />
          <p id="chat-message-hint" className="hint composer-hint">
            {t('message.hint')}
          </p>
          <div className="composer-actions">
            {streaming ? (
              <button type="button" className="button danger" onClick={() => abort.current?.abort()}>
                {t('stop')}
              </button>
            ) : (
              <button type="submit" className="button primary" disabled={noModel || draft.trim() === '' || live !== null}>
                {t('send')}
              </button>
            )}
          </div>
        </form>
      </section>

      {showMemories && (
        <div id="memory-panel" className="chat-memories">
          <MemoryPanel
            reload={memoryReload}
            autoApprove={prefs?.autoApprove ?? false}
            onAutoApprove={async (on) => setPrefs(await chatApi.setPreferences({ autoApprove: on }))}
            propose={prefs?.proposeMemories ?? false}
            onPropose={async (on) => setPrefs(await chatApi.setPreferences({ proposeMemories: on }))}
          />
        </div>
      )}
    </div>
  );
}

const names = (list: { name: string }[]) => list.map((f) => f.name).join(', ');

/** What the answers can draw on: how many files are indexed, or how far a first index is. */
function IndexLine({ index }: { index: IndexStatus }) {
  const n = (x: number) => x.toLocaleString('en-US');
  let text: string;
  if (index.state === 'indexing') text = t('index.busy', { done: n(index.done), total: n(index.total) });
  else if (index.documents === 0) text = t('index.none');
  else if (index.documents === 1) text = t('index.idle1', { chunks: n(index.chunks) });
  else text = t('index.idle', { n: n(index.documents), chunks: n(index.chunks) });
  return (
    <div className="hint chat-index">
      <p>{text}</p>
      {index.failed.length > 0 && <p>{t('index.failed', { names: names(index.failed) })}</p>}
      {index.truncated.length > 0 && <p>{t('index.truncated', { names: names(index.truncated) })}</p>}
    </div>
  );
}
