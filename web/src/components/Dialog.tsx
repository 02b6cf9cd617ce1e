import { useEffect, useId, useRef } from 'react';
import type { ReactNode } from 'react';

// A native <dialog> opened with showModal(): the browser makes the rest of the page inert (focus
// stays inside, screen readers see only the dialog) and turns Escape into a `cancel` event.
// Hand-rolled focus traps miss cases the platform already handles.

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
      onCancel={(event) => {
        event.preventDefault();
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
