import { useEffect, useRef } from 'react';
import type { ReactNode } from 'react';

/** The id of the current screen's main heading (the skip link moves focus there). */
export const MAIN_HEADING_ID = 'main-heading';

/**
 * The main heading of a screen. It takes keyboard focus when it appears and whenever `focusKey`
 * changes (another folder, the trash), so a screen reader announces the new screen and Tab
 * continues from the top of it instead of from a button that no longer exists.
 */
export function ScreenHeading({ children, focusKey, className }: { children: ReactNode; focusKey?: string; className?: string }) {
  const ref = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    ref.current?.focus();
  }, [focusKey]);
  return (
    <h1 id={MAIN_HEADING_ID} ref={ref} tabIndex={-1} className={className}>
      {children}
    </h1>
  );
}

/** Moves focus to the main heading, if the screen has one. */
export function focusMainHeading(): void {
  document.getElementById(MAIN_HEADING_ID)?.focus();
}
