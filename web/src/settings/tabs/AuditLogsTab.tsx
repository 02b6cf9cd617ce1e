import { Fragment, useEffect, useId, useState } from 'react';
import { api } from '../../api.ts';
import type { AuditEntry } from '../../api.ts';
import { LOCALE } from '../../i18n.ts';
import { messageOf } from '../settingsForm.tsx';
import { t } from '../strings.ts';
import type { StringKey } from '../strings.ts';
// The server's own list of audit events (a file with no imports, so only the names come along).
import { AUDIT_EVENTS } from '../../../../src/audit/event-names.ts';

const PAGE = 50;

// Seconds matter in an audit trail (several unlock attempts in one minute), unlike in file lists.
const timeFormat = new Intl.DateTimeFormat(LOCALE, { dateStyle: 'medium', timeStyle: 'medium' });

/** An event's name for people; an event from a newer server shows as it is named there. */
function eventLabel(event: string): string {
  return (AUDIT_EVENTS as readonly string[]).includes(event) ? t(`event.${event}` as StringKey) : event;
}

type Page = { entries: AuditEntry[]; total: number };
type Verdict = { ok: boolean; entries: number; firstBadEntry?: number; reason?: string };

export default function AuditLogsTab() {
  const id = useId();
  const [event, setEvent] = useState('');
  const [offset, setOffset] = useState(0);
  const [page, setPage] = useState<Page | null>(null);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<string | null>(null);
  const [verdict, setVerdict] = useState<Verdict | null>(null);
  const [verifying, setVerifying] = useState(false);
  const [verifyError, setVerifyError] = useState<string | null>(null);

  useEffect(() => {
    let current = true;
    setLoading(true);
    api.audit({ event: event === '' ? undefined : event, limit: PAGE, offset }).then(
      (loaded) => {
        if (!current) return;
        setPage(loaded);
        setError(null);
        setLoading(false);
      },
      (err: unknown) => {
        if (!current) return;
        setError(messageOf(err));
        setLoading(false);
      },
    );
    return () => {
      current = false;
    };
  }, [event, offset]);

  async function verify(): Promise<void> {
    setVerifying(true);
    setVerdict(null);
    setVerifyError(null);
    try {
      setVerdict(await api.auditVerify());
    } catch (err) {
      setVerifyError(messageOf(err));
    } finally {
      setVerifying(false);
    }
  }

  let verdictText = verifying ? t('audit.verifying') : '';
  if (verdict !== null) {
    if (verdict.ok) verdictText = t('audit.intact', { n: verdict.entries });
    else if (verdict.firstBadEntry !== undefined) verdictText = t('audit.broken', { n: verdict.firstBadEntry });
    else verdictText = t('audit.brokenUnknown');
  }

  return (
    <div className="settings-sections">
      <p className="settings-hint">{t('audit.hint')}</p>
      <div className="settings-audit-tools">
        <div className="settings-field">
          <label htmlFor={id + 'event'}>{t('audit.event')}</label>
          <select
            id={id + 'event'}
            value={event}
            onChange={(change) => {
              setEvent(change.target.value);
              setOffset(0);
            }}
          >
            <option value="">{t('audit.allEvents')}</option>
            {AUDIT_EVENTS.map((name) => (
              <option key={name} value={name}>
                {eventLabel(name)}
              </option>
            ))}
          </select>
        </div>
        <div className="settings-audit-actions">
          <button type="button" className="settings-button" disabled={verifying} onClick={() => void verify()}>
            {t('audit.verify')}
          </button>
          <a className="settings-button" href={api.auditExportUrl()} download="audit-log.jsonl">
            {t('audit.export')}
          </a>
        </div>
      </div>
      <p role="status" className={verdict !== null && !verdict.ok ? 'settings-status settings-status-bad' : 'settings-status'}>
        {verdictText}
      </p>
      {verdict !== null && !verdict.ok && verdict.reason !== undefined && <p className="settings-error">{verdict.reason}</p>}
      {verifyError !== null && (
        <p role="alert" className="settings-error">
          {verifyError}
        </p>
      )}

      {error !== null && (
        <p role="alert" className="settings-error">
          {error}
        </p>
      )}
      {page === null ? (
        loading && <p className="settings-loading">{t('loading')}</p>
      ) : (
        <AuditTable page={page} offset={offset} loading={loading} onOffset={setOffset} />
      )}
    </div>
  );
}

function AuditTable({ page, offset, loading, onOffset }: { page: Page; offset: number; loading: boolean; onOffset: (offset: number) => void }) {
  const id = useId();
  const first = page.total === 0 ? 0 : offset + 1;
  const last = offset + page.entries.length;
  return (
    <>
      <table className="settings-audit-table" aria-labelledby={id} aria-busy={loading}>
        <caption id={id} className="settings-visually-hidden">
          {t('audit.table')}
        </caption>
        <thead>
          <tr>
            <th scope="col">{t('audit.time')}</th>
            <th scope="col">{t('audit.eventColumn')}</th>
            <th scope="col">{t('audit.details')}</th>
          </tr>
        </thead>
        <tbody>
          {page.entries.length === 0 ? (
            <tr>
              <td colSpan={3}>{t('audit.empty')}</td>
            </tr>
          ) : (
            page.entries.map((entry) => (
              <tr key={entry.seq}>
                <td>
                  <time dateTime={new Date(entry.at).toISOString()}>{timeFormat.format(entry.at)}</time>
                </td>
                <td>{eventLabel(entry.event)}</td>
                <td>
                  <Details details={entry.details} />
                </td>
              </tr>
            ))
          )}
        </tbody>
      </table>
      <div className="settings-pager">
        <button type="button" className="settings-button" disabled={offset === 0 || loading} onClick={() => onOffset(Math.max(0, offset - PAGE))}>
          {t('audit.previous')}
        </button>
        <p className="settings-pager-range">{page.total > 0 && t('audit.range', { from: first, to: last, total: page.total })}</p>
        <button type="button" className="settings-button" disabled={last >= page.total || loading} onClick={() => onOffset(offset + PAGE)}>
          {t('audit.next')}
        </button>
      </div>
    </>
  );
}

/** `path=/a.pdf size=12`: an entry's details, flat as the server keeps them. */
function Details({ details }: { details: Record<string, unknown> }) {
  const pairs = Object.entries(details);
  if (pairs.length === 0) return null;
  return (
    <span className="settings-details">
      {pairs.map(([key, value], i) => (
        <Fragment key={key}>
          {i > 0 && ' '}
          <span className="settings-detail">
            <span className="settings-detail-key">{key}</span>={typeof value === 'string' ? value : JSON.stringify(value)}
          </span>
        </Fragment>
      ))}
    </span>
  );
}
