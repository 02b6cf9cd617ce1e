import { t } from '../strings/browser.ts';
import type { Crumb } from './folders.ts';

/** Where the user is: the Vault, then each folder down to the current one; each opens it. */
export function Breadcrumbs({ crumbs, current, onGo }: { crumbs: readonly Crumb[]; current: boolean; onGo: (depth: number) => void }) {
  const steps = [{ id: '', name: t('root') }, ...crumbs];
  return (
    <nav aria-label={t('breadcrumbs')} className="breadcrumbs">
      <ol>
        {steps.map((step, depth) => (
          <li key={step.id}>
            <button
              type="button"
              className="crumb"
              aria-current={current && depth === steps.length - 1 ? 'page' : undefined}
              onClick={() => onGo(depth)}
            >
              {step.name}
            </button>
          </li>
        ))}
      </ol>
    </nav>
  );
}
