import { t } from './strings.ts';
import type { ContextReport } from './client.ts';

// The budget bar under an answer: the context builder's report (src/ai/context/builder.ts) as
// words, in the order and with the rules of its describeReport ("system 310 · memories 2 (120) ·
// vault 3 excerpts (1,480) · …"), but through this screen's strings so a translation reaches it.

const n = (x: number) => x.toLocaleString('en-US');

export interface BudgetPart {
  /** what kind of part, for its colour */
  kind: 'system' | 'memories' | 'excerpts' | 'summary' | 'turns' | 'lost' | 'reserve' | 'summarised';
  label: string;
  /** tokens it takes of the window (0 for parts that only count turns) */
  tokens: number;
}

/** The report's parts, empty ones left out; parts with tokens are what the bar draws. */
export function budgetParts(report: ContextReport): BudgetPart[] {
  const p = report.parts;
  const out: BudgetPart[] = [];
  if (p.system.included) out.push({ kind: 'system', label: t('budget.system', { n: n(p.system.tokens) }), tokens: p.system.tokens });
  if (p.memories.included > 0) out.push({ kind: 'memories', label: t('budget.memories', { count: p.memories.included, n: n(p.memories.tokens) }), tokens: p.memories.tokens });
  if (p.excerpts.included > 0) {
    const key = p.excerpts.included === 1 ? 'budget.excerpt' : 'budget.excerpts';
    out.push({ kind: 'excerpts', label: t(key, { count: p.excerpts.included, n: n(p.excerpts.tokens) }), tokens: p.excerpts.tokens });
  }
  if (p.summary.included) out.push({ kind: 'summary', label: t('budget.summary', { n: n(p.summary.tokens) }), tokens: p.summary.tokens });
  const turns = p.turns.included + 1;
  const turnTokens = p.turns.tokens + p.user.tokens;
  out.push({ kind: 'turns', label: t(turns === 1 ? 'budget.turn' : 'budget.turns', { count: turns, n: n(turnTokens) }), tokens: turnTokens });
  if (p.turns.summarised > 0) {
    out.push({ kind: 'summarised', label: t(p.turns.summarised === 1 ? 'budget.summarised1' : 'budget.summarised', { count: p.turns.summarised }), tokens: 0 });
  }
  const lost = p.turns.dropped - p.turns.summarised;
  if (lost > 0) out.push({ kind: 'lost', label: t(lost === 1 ? 'budget.lost1' : 'budget.lost', { count: lost }), tokens: 0 });
  out.push({ kind: 'reserve', label: t('budget.reserve', { n: n(report.replyReserve) }), tokens: report.replyReserve });
  return out;
}

/** The one-line text of the bar ("system 310 · memories 2 (120) · …"). */
export function describeBudget(report: ContextReport): string {
  return budgetParts(report)
    .map((part) => part.label)
    .join(' · ');
}
