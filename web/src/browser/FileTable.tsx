import { api } from '../api.ts';
import type { Item } from '../api.ts';
import { Icon } from '../components/Icon.tsx';
import { formatDate, formatSize } from '../i18n.ts';
import { t } from '../strings/browser.ts';
import { parentPath } from './messages.ts';

export interface FileTableProps {
  items: readonly Item[];
  /** search results come from anywhere in the vault: each row also says where */
  showLocation: boolean;
  onOpen: (folder: Item) => void;
  onRename: (item: Item) => void;
  onMove: (item: Item) => void;
  onTrash: (item: Item) => void;
}

function Modified({ ms }: { ms: number }) {
  return <time dateTime={new Date(ms).toISOString()}>{formatDate(ms)}</time>;
}

/**
 * The "Files" table. On a narrow screen the Size and Modified columns fold into a line under
 * the name (styles.css), and the row's buttons show only their icons; their names stay whole.
 */
export function FileTable({ items, showLocation, onOpen, onRename, onMove, onTrash }: FileTableProps) {
  return (
    <table className="items" aria-label={t('files')}>
      <thead>
        <tr>
          <th scope="col" className="col-name">
            {t('name')}
          </th>
          <th scope="col" className="col-size">
            {t('size')}
          </th>
          <th scope="col" className="col-modified">
            {t('modified')}
          </th>
          <th scope="col" className="col-actions">
            <span className="sr-only">{t('actions')}</span>
          </th>
        </tr>
      </thead>
      <tbody>
        {items.map((item) => {
          const folder = item.kind === 'folder';
          const size = folder ? t('folder') : formatSize(item.size ?? 0);
          return (
            <tr key={item.id}>
              <td className="col-name">
                <div className="name-cell">
                  <Icon name={folder ? 'folder' : 'file'} className={folder ? 'kind-icon folder-icon' : 'kind-icon'} />
                  <div className="name-text">
                    {folder ? (
                      <button type="button" className="link-button item-name" onClick={() => onOpen(item)}>
                        {item.name}
                      </button>
                    ) : (
                      <span className="item-name">{item.name}</span>
                    )}
                    {showLocation && <span className="item-location">{parentPath(item.path)}</span>}
                    <span className="item-meta">
                      {folder ? t('folder') : size} · <Modified ms={item.modified} />
                    </span>
                  </div>
                </div>
              </td>
              <td className="col-size">{folder ? <span className="muted">{size}</span> : size}</td>
              <td className="col-modified">
                <Modified ms={item.modified} />
              </td>
              <td className="col-actions">
                <div className="row-actions">
                  {!folder && (
                    // A plain link: the server streams the file and the cookie goes along, so a
                    // file of many GB never passes through this page's memory.
                    <a className="button icon-button" href={api.contentUrl(item.id)} download aria-label={t('download.label', { name: item.name })}>
                      <Icon name="download" />
                      <span className="button-label">{t('download')}</span>
                    </a>
                  )}
                  <button type="button" className="button icon-button" aria-label={t('rename.label', { name: item.name })} onClick={() => onRename(item)}>
                    <Icon name="rename" />
                    <span className="button-label">{t('rename')}</span>
                  </button>
                  <button type="button" className="button icon-button" aria-label={t('move.label', { name: item.name })} onClick={() => onMove(item)}>
                    <Icon name="move" />
                    <span className="button-label">{t('move')}</span>
                  </button>
                  <button type="button" className="button icon-button" aria-label={t('toTrash.label', { name: item.name })} onClick={() => onTrash(item)}>
                    <Icon name="trash" />
                    <span className="button-label">{t('toTrash')}</span>
                  </button>
                </div>
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}
