// The vault browser screen, about 400 lines: it owns the state its parts share (the folder shown,
// the listing, search, the open dialog, uploads, a revealed file) and the handlers that change
// it; the parts themselves are separate (FileTable, Breadcrumbs, ItemDialogs, TrashView,
// UploadsPanel, input.ts). Splitting the handlers off would pass that state around instead.
import { useCallback, useEffect, useRef, useState } from 'react';
import type { DragEvent as ReactDragEvent } from 'react';
import { api, ApiError } from '../api.ts';
import type { Item } from '../api.ts';
import { Dialog } from '../components/Dialog.tsx';
import { Icon } from '../components/Icon.tsx';
import { focusMainHeading, ScreenHeading } from '../components/ScreenHeading.tsx';
import { t } from '../strings/browser.ts';
import { t as tUnlock } from '../strings/unlock.ts';
import { Breadcrumbs } from './Breadcrumbs.tsx';
import { FileTable } from './FileTable.tsx';
import { crumbsOf } from './folders.ts';
import { droppedFiles, hasFiles, useDebounced } from './input.ts';
import type { Crumb } from './folders.ts';
import { MoveForm, NewFolderForm, RenameForm } from './ItemDialogs.tsx';
import { errorText, isSessionEnd, sortItems } from './messages.ts';
import { TrashView } from './TrashView.tsx';
import { createUploads } from './uploads.ts';
import type { Uploads } from './uploads.ts';
import { UploadsPanel } from './UploadsPanel.tsx';

type OpenDialog = { kind: 'new-folder' } | { kind: 'rename'; item: Item } | { kind: 'move'; item: Item } | null;

/** Search waits for a pause in typing, so each keystroke does not cost a vault-wide scan. */
const SEARCH_DELAY_MS = 250;
/** Several uploads finishing together refresh the list once. */
const REFRESH_DELAY_MS = 300;

/** A file to show: a chat citation opens its folder and puts focus on it. A new object each time. */
export interface Reveal {
  id: string;
  path: string;
}

/** The vault browser: folders, search, the item actions and dialogs, uploads, and the trash. */
export function Browser({ viaRecoveryCode, reveal }: { viaRecoveryCode: boolean; reveal?: Reveal }) {
  const [view, setView] = useState<'files' | 'trash'>('files');
  const [crumbs, setCrumbs] = useState<Crumb[]>([]);
  const [query, setQuery] = useState('');
  const search = useDebounced(query.trim(), SEARCH_DELAY_MS);
  const [listing, setListing] = useState<{ key: string; items: Item[] } | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [reload, setReload] = useState(0);
  const [dialog, setDialog] = useState<OpenDialog>(null);
  const [notice, setNotice] = useState(viaRecoveryCode ? tUnlock('recoveredNotice') : '');
  const [actionError, setActionError] = useState<string | null>(null);
  const [uploads, setUploads] = useState<Uploads | null>(null);
  const [dragging, setDragging] = useState(false);
  const dragDepth = useRef(0);
  const fileInput = useRef<HTMLInputElement>(null);

  const folderId = crumbs.at(-1)?.id ?? null;
  const folderName = crumbs.at(-1)?.name ?? t('root');
  const listKey = search === '' ? 'folder:' + (folderId ?? '') : 'search:' + search;

  // What the upload callbacks (created once) need to know about the current view.
  const where = useRef({ folderId, search });
  useEffect(() => {
    where.current = { folderId, search };
  }, [folderId, search]);

  useEffect(() => {
    let refreshTimer: ReturnType<typeof setTimeout> | undefined;
    const created = createUploads({
      onFinished: (parent) => {
        if (parent !== where.current.folderId && where.current.search === '') return;
        clearTimeout(refreshTimer);
        refreshTimer = setTimeout(() => setReload((n) => n + 1), REFRESH_DELAY_MS);
      },
      // Asking for the session lets the API client notice it is gone and tell the app.
      onSessionEnded: () => void api.resume().catch(() => undefined),
    });
    setUploads(created);
    return () => {
      clearTimeout(refreshTimer);
      created.dispose();
    };
  }, []);

  useEffect(() => {
    if (view !== 'files') return;
    let live = true;
    const key = listKey;
    const load = search === '' ? api.list(folderId) : api.search(search);
    load.then(
      ({ items }) => {
        if (!live) return;
        setListing({ key, items: sortItems(items) });
        setLoadError(null);
      },
      (err: unknown) => {
        if (!live || isSessionEnd(err)) return;
        if (err instanceof ApiError && err.code === 'ITEM_NOT_FOUND' && search === '') {
          // The folder went away (moved or trashed elsewhere): back to the top.
          setCrumbs([]);
          setNotice(t('error.gone'));
          return;
        }
        setLoadError(errorText(err, folderName));
      },
    );
    return () => {
      live = false;
    };
  }, [view, folderId, search, reload, listKey, folderName]);

  // A file dropped beside the drop zone would otherwise make the browser leave the app to show it.
  useEffect(() => {
    const keep = (event: DragEvent) => {
      if (event.dataTransfer?.types.includes('Files')) event.preventDefault();
    };
    window.addEventListener('dragover', keep);
    window.addEventListener('drop', keep);
    return () => {
      window.removeEventListener('dragover', keep);
      window.removeEventListener('drop', keep);
    };
  }, []);

  const refresh = useCallback(() => setReload((n) => n + 1), []);

  // A file to reveal: its folder is opened (found by name from the root, as a search hit's is),
  // then, once that listing is on screen, focus goes to the file's row.
  const revealing = useRef<string | null>(null);
  // Bumped when the folder is found: a file in the folder already shown gets no new listing.
  const [revealTick, setRevealTick] = useState(0);
  useEffect(() => {
    if (reveal === undefined) return;
    let live = true;
    const cut = reveal.path.lastIndexOf('/');
    crumbsOf(cut <= 0 ? '/' : reveal.path.slice(0, cut)).then(
      (found) => {
        if (!live) return;
        revealing.current = reveal.id;
        setView('files');
        goTo(found);
        setRevealTick((n) => n + 1);
      },
      (err: unknown) => live && fail(err, reveal.path),
    );
    return () => {
      live = false;
    };
  }, [reveal]);
  useEffect(() => {
    const id = revealing.current;
    if (id === null || listing === null) return;
    const link = document.querySelector<HTMLElement>(`table.items a[href="${CSS.escape(api.contentUrl(id))}"]`);
    if (link === null) return;
    revealing.current = null;
    link.focus();
    link.scrollIntoView({ block: 'center' });
  }, [listing, revealTick]);

  const announce = useCallback((text: string) => {
    setActionError(null);
    setNotice(text);
  }, []);

  function fail(err: unknown, name: string) {
    if (isSessionEnd(err)) return;
    setNotice('');
    setActionError(errorText(err, name));
    refresh();
  }

  function goTo(next: Crumb[]) {
    setCrumbs(next);
    setQuery('');
    setNotice('');
    setActionError(null);
  }

  function openFolder(folder: Item) {
    if (search === '') {
      goTo([...crumbs, { id: folder.id, name: folder.name }]);
      return;
    }
    // A search hit can be anywhere: find the way down to it by name.
    crumbsOf(folder.path).then(
      (found) => goTo(found.at(-1)?.id === folder.id ? found : [...found, { id: folder.id, name: folder.name }]),
      (err: unknown) => fail(err, folder.name),
    );
  }

  async function moveToTrash(item: Item) {
    try {
      await api.trash(item.id);
      announce(t('toTrash.done', { name: item.name }));
      refresh();
      // The row and its buttons are gone; the heading is the nearest stable place for focus.
      focusMainHeading();
    } catch (err) {
      fail(err, item.name);
    }
  }

  function addFiles(files: File[]) {
    if (uploads === null || files.length === 0) return;
    uploads.add(files, folderId);
  }

  function onDrop(event: ReactDragEvent) {
    if (!hasFiles(event)) return;
    event.preventDefault();
    dragDepth.current = 0;
    setDragging(false);
    const { files, folders } = droppedFiles(event.dataTransfer);
    const first = folders[0];
    if (first !== undefined) setActionError(t('error.folderDropped', { name: first }));
    addFiles(files);
  }

  const closeDialog = () => setDialog(null);

  if (view === 'trash') {
    return (
      <TrashView
        onBack={() => {
          setView('files');
          setNotice('');
        }}
        notice={notice}
        announce={announce}
      />
    );
  }

  const items = listing !== null && listing.key === listKey ? listing.items : null;
  const searching = search !== '';

  return (
    <div className="view">
      <Breadcrumbs crumbs={crumbs} current={!searching} onGo={(depth) => goTo(crumbs.slice(0, depth))} />
      <div className="title-row">
        <ScreenHeading focusKey={'folder:' + (folderId ?? '')}>{searching ? t('searchTitle') : folderName}</ScreenHeading>
      </div>

      <div className="toolbar">
        <div className="search">
          <Icon name="search" className="search-icon" />
          <input
            type="search"
            aria-label={t('search')}
            placeholder={t('search.placeholder')}
            value={query}
            onChange={(e) => setQuery(e.target.value)}
            maxLength={256}
            autoComplete="off"
            spellCheck={false}
          />
        </div>
        <div className="toolbar-actions">
          <button type="button" className="button" onClick={() => setDialog({ kind: 'new-folder' })}>
            <Icon name="newFolder" />
            <span>{t('newFolder')}</span>
          </button>
          <button type="button" className="button primary" onClick={() => fileInput.current?.click()}>
            <Icon name="upload" />
            <span>{t('upload')}</span>
          </button>
          <button
            type="button"
            className="button"
            onClick={() => {
              setView('trash');
              setNotice('');
              setActionError(null);
            }}
          >
            <Icon name="trash" />
            <span>{t('trash')}</span>
          </button>
        </div>
        <input
          ref={fileInput}
          type="file"
          multiple
          className="file-input"
          aria-label={t('chooseFiles')}
          tabIndex={-1}
          onChange={(e) => {
            addFiles([...(e.target.files ?? [])]);
            // Picking the same file again must fire change again.
            e.target.value = '';
          }}
        />
      </div>

      {/* Always in the page (empty when there is nothing to say), so screen readers announce changes. */}
      <p className="notice" aria-live="polite">
        {notice}
      </p>
      {actionError !== null && (
        <p role="alert" className="alert">
          {actionError}
        </p>
      )}

      {uploads !== null && <UploadsPanel uploads={uploads} />}

      <div
        className={dragging ? 'dropzone dragging' : 'dropzone'}
        onDragEnter={(event) => {
          if (!hasFiles(event)) return;
          event.preventDefault();
          dragDepth.current += 1;
          setDragging(true);
        }}
        onDragOver={(event) => {
          if (!hasFiles(event)) return;
          event.preventDefault();
          event.dataTransfer.dropEffect = 'copy';
        }}
        onDragLeave={(event) => {
          if (!hasFiles(event)) return;
          dragDepth.current = Math.max(0, dragDepth.current - 1);
          if (dragDepth.current === 0) setDragging(false);
        }}
        onDrop={onDrop}
      >
        {dragging && (
          <div className="drop-hint" aria-hidden="true">
            <div className="drop-hint-inner">
              <Icon name="upload" />
              <span>{t('dropHere', { folder: folderName })}</span>
            </div>
          </div>
        )}
        {loadError !== null && (
          <div className="load-error">
            <p role="alert" className="alert">
              {loadError}
            </p>
            <button type="button" className="button" onClick={refresh}>
              {t('retry')}
            </button>
          </div>
        )}
        {items === null && loadError === null && <p className="muted loading-text">{t('loading')}</p>}
        {items !== null && items.length === 0 && !searching && (
          <div className="empty">
            <p className="empty-title">{t('empty')}</p>
            <p className="hint">{t('empty.hint')}</p>
          </div>
        )}
        {items !== null && items.length === 0 && searching && <p className="empty">{t('search.none', { q: search })}</p>}
        {items !== null && items.length > 0 && (
          <>
            {searching && <p className="hint">{items.length === 1 ? t('search.one', { q: search }) : t('search.count', { n: items.length, q: search })}</p>}
            <FileTable
              items={items}
              showLocation={searching}
              onOpen={openFolder}
              onRename={(item) => setDialog({ kind: 'rename', item })}
              onMove={(item) => setDialog({ kind: 'move', item })}
              onTrash={(item) => void moveToTrash(item)}
            />
          </>
        )}
      </div>

      <Dialog title={t('newFolder.dialog')} open={dialog?.kind === 'new-folder'} onClose={closeDialog}>
        <NewFolderForm
          parent={folderId}
          onCancel={closeDialog}
          onDone={(folder) => {
            closeDialog();
            announce(t('newFolder.done', { name: folder.name }));
            refresh();
          }}
        />
      </Dialog>
      <Dialog title={t('rename.dialog')} open={dialog?.kind === 'rename'} onClose={closeDialog}>
        {dialog?.kind === 'rename' && (
          <RenameForm
            item={dialog.item}
            onCancel={closeDialog}
            onDone={(renamed) => {
              closeDialog();
              announce(t('rename.done', { name: renamed.name }));
              refresh();
            }}
          />
        )}
      </Dialog>
      <Dialog title={t('move.dialog')} open={dialog?.kind === 'move'} onClose={closeDialog}>
        {dialog?.kind === 'move' && (
          <MoveForm
            item={dialog.item}
            onCancel={closeDialog}
            onDone={(moved, destination) => {
              closeDialog();
              announce(t('move.done', { name: moved.name, folder: destination }));
              refresh();
              focusMainHeading();
            }}
          />
        )}
      </Dialog>
    </div>
  );
}
