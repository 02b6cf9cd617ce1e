import { Component, Suspense, useState } from 'react';
import type { ReactNode } from 'react';

/**
 * A section of the app whose screen is a lazy chunk (Chat, Devices): nothing is fetched until it
 * is first opened; from then on it stays mounted, hidden while another section shows, so what
 * the user had there (a draft, an answer in flight, a pairing code) survives a look elsewhere.
 * A chunk that fails to load (a new build, a dropped connection) says so instead of a blank page.
 */
export function LazySection({ active, loading, failed, children }: { active: boolean; loading: string; failed: (message: string) => string; children: ReactNode }) {
  const [opened, setOpened] = useState(active);
  if (active && !opened) setOpened(true);
  if (!opened) return null;
  return (
    <div hidden={!active}>
      <Boundary failed={failed}>
        <Suspense fallback={<p className="muted loading-text">{loading}</p>}>{children}</Suspense>
      </Boundary>
    </div>
  );
}

class Boundary extends Component<{ children: ReactNode; failed: (message: string) => string }, { error: string | null }> {
  override state: { error: string | null } = { error: null };

  static getDerivedStateFromError(error: unknown): { error: string } {
    return { error: error instanceof Error ? error.message : String(error) };
  }

  override render(): ReactNode {
    if (this.state.error === null) return this.props.children;
    return (
      <p role="alert" className="alert">
        {this.props.failed(this.state.error)}
      </p>
    );
  }
}
