// Messages on a page: errors (announced to screen readers at once), notes, and loading.

import type { ComponentChildren } from 'preact';
import { describe } from '../api';

/** An error in words, or nothing when `error` is empty. */
export function ErrorNotice({ error, title }: { error: unknown; title?: string }) {
  if (error === undefined || error === null) return null;
  return (
    <div class="notice notice-error" role="alert">
      {title && <strong>{title} </strong>}
      {describe(error)}
    </div>
  );
}

export function Note({ children }: { children: ComponentChildren }) {
  return (
    <div class="notice" role="status">
      {children}
    </div>
  );
}

export function Loading({ label = 'Loading…' }: { label?: string }) {
  return (
    <p class="loading" role="status" aria-live="polite">
      {label}
    </p>
  );
}
