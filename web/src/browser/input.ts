// What the browser reads from the user besides clicks: a search box that waits for a pause in
// typing, and drops of files and folders.
import { useEffect, useState } from 'react';
import type { DragEvent as ReactDragEvent } from 'react';

export function useDebounced(value: string, ms: number): string {
  const [settled, setSettled] = useState(value);
  useEffect(() => {
    // Clearing the box shows the folder again at once; only typing waits.
    if (value === '') {
      setSettled('');
      return;
    }
    const timer = setTimeout(() => setSettled(value), ms);
    return () => clearTimeout(timer);
  }, [value, ms]);
  return settled;
}

export function hasFiles(event: ReactDragEvent): boolean {
  return event.dataTransfer.types.includes('Files');
}

/**
 * Splits a drop into files and folders. A dropped folder arrives as a File that cannot be read;
 * the entry API tells them apart (synthetic drops have no entries: those are all files).
 */
export function droppedFiles(data: DataTransfer): { files: File[]; folders: string[] } {
  const files: File[] = [];
  const folders: string[] = [];
  for (const item of data.items) {
    if (item.kind !== 'file') continue;
    const entry = typeof item.webkitGetAsEntry === 'function' ? item.webkitGetAsEntry() : null;
    const file = item.getAsFile();
    if (entry?.isDirectory) folders.push(entry.name);
    else if (file !== null) files.push(file);
  }
  if (files.length === 0 && folders.length === 0) files.push(...data.files);
  return { files, folders };
}
