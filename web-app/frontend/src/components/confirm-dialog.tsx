// A button that asks before doing something that cannot be undone (or that changes what someone may do): it
// opens a modal <dialog> (focus moves into it, Escape closes it, focus goes back to the button) with the
// question, Cancel and the action; an error from the action is said in the dialog, which stays open.

import type { ComponentChildren } from 'preact';
import { useId, useRef, useState } from 'preact/hooks';
import { ErrorNotice } from './notice';

export interface ConfirmButtonProps {
  /** The button's text. */
  label: string;
  /** An accessible name for the button when its text alone is ambiguous in a list ("Delete x@example.com"). */
  ariaLabel?: string;
  /** The dialog's heading: the question. */
  title: string;
  /** What will happen, in a sentence or two. */
  children?: ComponentChildren;
  /** The confirming button's text (default: `label`). */
  confirmLabel?: string;
  danger?: boolean;
  secondary?: boolean;
  disabled?: boolean;
  /** Does the work; the dialog closes when it resolves and shows the error when it throws. */
  onConfirm(): Promise<unknown>;
}

export function ConfirmButton(props: ConfirmButtonProps) {
  const dialog = useRef<HTMLDialogElement>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const titleId = useId();
  const buttonClass = props.danger ? 'danger' : props.secondary ? 'secondary' : undefined;

  const confirm = async () => {
    setBusy(true);
    setError(undefined);
    try {
      await props.onConfirm();
      dialog.current?.close();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  return (
    <>
      <button
        type="button"
        class={buttonClass}
        aria-label={props.ariaLabel}
        disabled={props.disabled}
        onClick={() => {
          setError(undefined);
          dialog.current?.showModal();
        }}
      >
        {props.label}
      </button>
      <dialog ref={dialog} class="confirm-dialog" aria-labelledby={titleId} onClose={() => setBusy(false)}>
        <form
          method="dialog"
          class="stack"
          onSubmit={(event) => {
            event.preventDefault();
            void confirm();
          }}
        >
          <h2 id={titleId}>{props.title}</h2>
          {props.children && <div>{props.children}</div>}
          <ErrorNotice error={error} title="It did not work." />
          <div class="row confirm-actions">
            <button type="button" class="secondary" onClick={() => dialog.current?.close()}>
              Cancel
            </button>
            <button type="submit" class={buttonClass} disabled={busy} aria-busy={busy}>
              {busy ? 'Working…' : (props.confirmLabel ?? props.label)}
            </button>
          </div>
        </form>
      </dialog>
    </>
  );
}
