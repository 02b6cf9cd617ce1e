import { useEffect, useId, useRef } from 'react';
import type { KeyboardEvent, ReactNode } from 'react';

// A native <dialog> opened with showModal(): the browser makes the rest of the page inert
// (screen readers see only the dialog) and turns Escape into a `cancel` event. Two gaps remain,
// closed below: Tab from the last control leaves the page for the browser's own UI, and React
// passes a nested dialog's `cancel` up to every enclosing onCancel.

export interface DialogProps {
  /** the dialog's accessible name, shown as its heading */
  title: string;
  open: boolean;
  onClose: () => void;
  children: ReactNode;
  className?: string;
}

export function Dialog({ title, open, onClose, children, className }: DialogProps) {
  const ref = useRef<HTMLDialogElement>(null);
  const headingId = useId();

  useEffect(() => {
    const dialog = ref.current;
    if (dialog === null) return;
    if (open && !dialog.open) dialog.showModal();
    if (!open && dialog.open) dialog.close();
  }, [open]);

  return (
    <dialog
      ref={ref}
      aria-labelledby={headingId}
      className={className === undefined ? 'dialog' : 'dialog ' + className}
      onKeyDown={keepTabInside}
      onCancel={(event) => {
        event.preventDefault();
        // Escape belongs to the innermost dialog only (a confirmation inside Settings).
        event.stopPropagation();
        onClose();
      }}
    >
      {open && (
        <>
          <h2 id={headingId} className="dialog-title">
            {title}
          </h2>
          {children}
        </>
      )}
    </dialog>
  );
}

const TAB_STOPS = 'a[href], button, input, select, textarea, [tabindex]';

/**
 * Keeps Tab and Shift+Tab inside the innermost open dialog: Tab from its last control wraps to
 * the first, Shift+Tab from the first to the last.
 */
function keepTabInside(event: KeyboardEvent): void {
  if (event.key !== 'Tab' || event.defaultPrevented) return;
  const current = document.activeElement;
  const scope = current?.closest('dialog');
  if (current == null || scope == null) return;
  const stops = [...scope.querySelectorAll<HTMLElement>(TAB_STOPS)].filter(
    (el) =>
      el.tabIndex >= 0 &&
      !(el as HTMLButtonElement).disabled &&
      // A radio group is one stop, at its checked radio.
      !(el instanceof HTMLInputElement && el.type === 'radio' && !el.checked) &&
      el.closest('dialog') === scope &&
      el.checkVisibility(),
  );
  // Where focus would go next in document order; none left means Tab would leave the dialog.
  const ahead = stops.filter((el) => el !== current && (current.compareDocumentPosition(el) & Node.DOCUMENT_POSITION_FOLLOWING) !== 0);
  const behind = stops.filter((el) => el !== current && (current.compareDocumentPosition(el) & Node.DOCUMENT_POSITION_PRECEDING) !== 0);
  const wrapTo = event.shiftKey ? (behind.length === 0 ? stops.at(-1) : undefined) : ahead.length === 0 ? stops[0] : undefined;
  if (wrapTo === undefined) return;
  event.preventDefault();
  wrapTo.focus();
}
