import { memo } from 'react';
import { Icon } from '../components/Icon.tsx';
import { budgetParts, describeBudget } from './budget.ts';
import type { Citation, ContextReport, Message } from './client.ts';
import { t } from './strings.ts';

/** What this page learnt about an answer while it streamed (not stored with the message). */
export interface AnswerInfo {
  report?: ContextReport;
  /** the ready budget line from the server (its describeReport), shown when there is no report */
  budget?: string;
  citations?: Citation[];
  promptTokens?: number;
  completionTokens?: number;
}

/**
 * The budget bar: one segment per part of the window (reply reserve included), as wide as its
 * share of the window, and the same parts in words beside it. The words are the bar's accessible
 * text; the drawing is decoration.
 */
export function BudgetBar({ report, info }: { report: ContextReport; info?: AnswerInfo }) {
  const parts = budgetParts(report);
  const text = describeBudget(report);
  return (
    <figure className="budget" aria-label={t('budget')}>
      <div className="budget-bar" aria-hidden="true">
        {parts
          .filter((p) => p.tokens > 0)
          .map((p) => (
            <span key={p.kind} className={`budget-seg budget-${p.kind}`} style={{ width: `${Math.max(0.5, (100 * p.tokens) / report.window)}%` }} />
          ))}
      </div>
      <figcaption className="budget-text">
        {text}
        <span className="budget-total">
          {' · '}
          {t('budget.of', { used: (report.used + report.replyReserve).toLocaleString('en-US'), window: report.window.toLocaleString('en-US') })}
          {info?.promptTokens !== undefined && info.completionTokens !== undefined && (
            <>
              {' · '}
              {t('budget.tokens', { prompt: info.promptTokens.toLocaleString('en-US'), completion: info.completionTokens.toLocaleString('en-US') })}
            </>
          )}
        </span>
      </figcaption>
    </figure>
  );
}

/** The cited files: each a button that opens it in the vault browser (a file since gone says so). */
export function Sources({ citations, onOpen }: { citations: Citation[]; onOpen: (citation: Citation) => void }) {
  if (citations.length === 0) return null;
  return (
    <div className="sources">
      <span className="sources-label" aria-hidden="true">
        {t('sources')}
      </span>
      <ul aria-label={t('sources')}>
        {citations.map((c) => (
          <li key={c.n + ':' + c.item}>
            <span className="source-n" aria-hidden="true">
              [{c.n}]
            </span>
            {c.path === null ? (
              <span className="muted" title={t('source.gone')}>
                {c.name} ({t('source.goneShort')})
              </span>
            ) : (
              <button type="button" className="source-button" aria-label={t('openSource', { name: c.name })} title={c.path} onClick={() => onOpen(c)}>
                <Icon name="file" />
                <span>{c.name}</span>
              </button>
            )}
          </li>
        ))}
      </ul>
    </div>
  );
}

/**
 * An answer's text with each "[n]" that names a cited file made a button to it; the rest, and
 * any "[n]" the model made up, stays plain text (never markup: React escapes it).
 */
function WithCitations({ text, citations, onOpen }: { text: string; citations: Citation[]; onOpen: (citation: Citation) => void }) {
  if (citations.length === 0) return <>{text}</>;
  const byN = new Map(citations.map((c) => [c.n, c]));
  const parts = text.split(/(\[\d{1,3}\])/);
  return (
    <>
      {parts.map((part, i) => {
        const c = /^\[(\d+)\]$/.test(part) ? byN.get(Number(part.slice(1, -1))) : undefined;
        if (c === undefined || c.path === null) return part;
        return (
          <button key={i} type="button" className="cite" aria-label={t('cite', { n: c.n, name: c.name })} title={c.name} onClick={() => onOpen(c)}>
            {part}
          </button>
        );
      })}
    </>
  );
}

export interface MessageViewProps {
  message: Pick<Message, 'id' | 'role' | 'content' | 'partial' | 'citations' | 'report'>;
  info?: AnswerInfo;
  streaming?: boolean;
  onOpenSource: (citation: Citation) => void;
  /** shown on the last message only */
  onRegenerate?: () => void;
  regenerateLabel?: string;
}

/**
 * A message of the thread: who, the text, and for an answer its sources and budget bar. Memoised:
 * while an answer streams, only the streaming one renders again, not a long conversation's all.
 */
export const MessageView = memo(function MessageView({ message, info, streaming, onOpenSource, onRegenerate, regenerateLabel }: MessageViewProps) {
  const mine = message.role === 'user';
  const citations = message.citations ?? info?.citations ?? [];
  return (
    <li className={mine ? 'msg msg-user' : 'msg msg-assistant'}>
      <article aria-label={mine ? t('you') : t('assistant')} aria-busy={streaming === true ? true : undefined}>
        <p className="msg-who">{mine ? t('you') : t('assistant')}</p>
        <div className="msg-text">{message.content === '' && streaming === true ? <span className="muted">{t('thinking')}</span> : <WithCitations text={message.content} citations={citations} onOpen={onOpenSource} />}</div>
        {message.partial === true && <p className="msg-partial">{t('partial')}</p>}
        {!mine && <Sources citations={citations} onOpen={onOpenSource} />}
        {/* The report streamed in this page, else the one stored with the answer. */}
        {!mine && (info?.report ?? message.report) !== undefined && <BudgetBar report={(info?.report ?? message.report)!} info={info} />}
        {onRegenerate !== undefined && (
          <div className="msg-actions">
            <button type="button" className="button small" onClick={onRegenerate}>
              <Icon name="restore" />
              <span>{regenerateLabel ?? t('regenerate')}</span>
            </button>
          </div>
        )}
      </article>
    </li>
  );
});
