// Copies a text to the clipboard and says so (or says to copy it by hand when the browser refuses, as it does
// on plain http other than localhost).

import { useEffect, useState } from 'preact/hooks';

export function CopyButton({ text, label = 'Copy' }: { text: string; label?: string }) {
  const [state, setState] = useState<'idle' | 'copied' | 'failed'>('idle');
  useEffect(() => {
    if (state !== 'copied') return;
    const timer = setTimeout(() => setState('idle'), 4000);
    return () => clearTimeout(timer);
  }, [state]);
  return (
    <span class="copy-button">
      <button
        type="button"
        class="secondary"
        onClick={async () => {
          try {
            await navigator.clipboard.writeText(text);
            setState('copied');
          } catch {
            setState('failed');
          }
        }}
      >
        {label}
      </button>
      <span role="status" class="muted">
        {state === 'copied' ? 'Copied.' : state === 'failed' ? 'This browser did not allow copying: select the text and copy it.' : ''}
      </span>
    </span>
  );
}
