// A menu button with a single-choice menu (quality, audio, subtitles): a real button with aria-haspopup and
// aria-expanded; the menu opens on its checked item, arrows, Home and End move, Enter or Space choose, Escape
// and Tab close, and focus goes back to the button.

import { useEffect, useRef, useState } from 'preact/hooks';

export interface MenuItem {
  key: string;
  label: string;
  checked: boolean;
}

interface ChoiceMenuProps {
  id: string;
  /** What the menu is for, read before the button's text: "Quality". */
  name: string;
  /** The button's visible text: the current choice. */
  value: string;
  /** Shorter text for the button on a phone (the full name and value stay its accessible name). */
  short?: string;
  items: MenuItem[];
  onChoose(key: string): void;
  /** Told when the menu opens or closes (the player keeps its controls on screen meanwhile). */
  onOpenChange?(open: boolean): void;
}

export function ChoiceMenu({ id, name, value, short, items, onChoose, onOpenChange }: ChoiceMenuProps) {
  const [open, setOpen] = useState(false);
  const button = useRef<HTMLButtonElement>(null);
  const menu = useRef<HTMLUListElement>(null);
  const root = useRef<HTMLDivElement>(null);

  const setOpenAndTell = (next: boolean) => {
    setOpen(next);
    onOpenChange?.(next);
  };
  const close = (refocus: boolean) => {
    setOpenAndTell(false);
    if (refocus) button.current?.focus();
  };

  const itemElements = () => Array.from(menu.current?.querySelectorAll<HTMLElement>('[role="menuitemradio"]') ?? []);
  const focusItem = (index: number) => {
    const elements = itemElements();
    if (elements.length === 0) return;
    elements[(index + elements.length) % elements.length].focus();
  };

  useEffect(() => {
    if (!open) return;
    const checked = items.findIndex((item) => item.checked);
    focusItem(checked >= 0 ? checked : 0);
    const outside = (event: PointerEvent) => {
      if (!root.current?.contains(event.target as Node)) close(false);
    };
    document.addEventListener('pointerdown', outside);
    return () => document.removeEventListener('pointerdown', outside);
    // Focus once per opening; items may change while it is open.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [open]);

  const onMenuKey = (event: KeyboardEvent) => {
    const elements = itemElements();
    const current = elements.indexOf(document.activeElement as HTMLElement);
    switch (event.key) {
      case 'ArrowDown':
        focusItem(current + 1);
        break;
      case 'ArrowUp':
        focusItem(current - 1);
        break;
      case 'Home':
        focusItem(0);
        break;
      case 'End':
        focusItem(elements.length - 1);
        break;
      case 'Escape':
        close(true);
        break;
      case 'Tab':
        close(false);
        return;
      case 'Enter':
      case ' ': {
        const item = items[current];
        if (item) {
          onChoose(item.key);
          close(true);
        }
        break;
      }
      default:
        return;
    }
    event.preventDefault();
    event.stopPropagation();
  };

  return (
    <div class="player-menu" ref={root}>
      <button
        ref={button}
        type="button"
        class="player-button player-menu-button"
        id={`${id}-button`}
        aria-haspopup="menu"
        aria-expanded={open}
        aria-controls={open ? `${id}-menu` : undefined}
        aria-label={short && !`${name}: ${value}`.includes(short) ? `${name}: ${value}, ${short}` : `${name}: ${value}`}
        onClick={() => setOpenAndTell(!open)}
        onKeyDown={(event) => {
          if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
            event.preventDefault();
            event.stopPropagation();
            setOpenAndTell(true);
          }
        }}
      >
        <span class="player-menu-name" aria-hidden="true">
          {name}
        </span>{' '}
        <span aria-hidden="true" class={short ? 'player-menu-value' : undefined}>
          {value}
        </span>
        {short && (
          <span aria-hidden="true" class="player-menu-short">
            {short}
          </span>
        )}
      </button>
      {open && (
        <ul class="player-menu-list" role="menu" id={`${id}-menu`} aria-labelledby={`${id}-button`} ref={menu} onKeyDown={onMenuKey}>
          {items.map((item) => (
            <li
              key={item.key}
              role="menuitemradio"
              aria-checked={item.checked}
              tabIndex={-1}
              onClick={() => {
                onChoose(item.key);
                close(true);
              }}
            >
              {item.label}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
