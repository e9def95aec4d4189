// The player: a <video> driven by one of the streaming engines (./engine), with its own accessible controls
// (play, seek, time, volume, quality, audio, subtitles, fullscreen), keyboard shortcuts, a poster and a
// loading indicator while it loads, errors in words with a Retry button, the viewer's position saved for
// resuming, and QoE beacons. Reusable: it knows URLs and ids, not pages.
//
// Data attributes on the root say what it is doing (for people debugging and for the browser tests):
// data-engine (hls, dash, native), data-phase (loading, playing, paused, ended, error), data-rendition and
// data-rendition-height (what is on screen), data-auto (the engine picks renditions), data-refreshes (how many
// fresh tokens were swapped in).

import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { formatDuration } from '../format';
import { ViewBeacons } from './beacons';
import { createEngine, type Engine, type EnginePreference, type Rendition, type Sources } from './engine';
import { Icon } from './icons';
import { ChoiceMenu } from './menu';
import { savePosition } from './resume';
import './player.css';

export type { Sources } from './engine';

export interface PlayerProps {
  sources: Sources;
  prefer?: EnginePreference;
  poster?: string | null;
  /** The title's name, shown over the picture with the controls. */
  title: string;
  /** Seconds to start at. */
  startAt?: number;
  assetId: string;
  /** The catalog title it is played as (for beacons). */
  titleId?: string;
  /** Whose position it is (the user's id, or `anonymous`). */
  viewer: string;
  /** After a playback error, the viewer asked to try again from `position` seconds (fresh URLs, a new player). */
  onRetry(position: number): void;
}

type Phase = 'loading' | 'playing' | 'paused' | 'ended' | 'error';

const SEEK_STEP_S = 5;
const SEEK_BIG_STEP_S = 10;
const VOLUME_STEP = 0.1;
const HEARTBEAT_MS = 10_000;
const SAVE_EVERY_MS = 5_000;
const HIDE_CONTROLS_MS = 3_000;

/** "3.2 Mb/s", "534 kb/s". */
export function formatBitrate(bps: number): string {
  return bps >= 1_000_000 ? `${(bps / 1_000_000).toFixed(1)} Mb/s` : `${Math.round(bps / 1000)} kb/s`;
}

function typing(target: EventTarget | null): boolean {
  if (!(target instanceof HTMLElement)) return false;
  if (slider(target)) return false;
  return target.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(target.tagName);
}

/** Keys a focused slider uses itself. */
const SLIDER_KEYS = new Set(['ArrowLeft', 'ArrowRight', 'ArrowUp', 'ArrowDown', 'Home', 'End', 'PageUp', 'PageDown']);

function slider(target: EventTarget | null): boolean {
  return target instanceof HTMLInputElement && target.type === 'range';
}

function activatable(target: EventTarget | null): boolean {
  return target instanceof HTMLElement && (['BUTTON', 'A', 'SUMMARY'].includes(target.tagName) || target.getAttribute('role') === 'menuitemradio');
}

export function Player(props: PlayerProps) {
  const { sources, prefer = 'auto', poster, title, startAt = 0, assetId, titleId, viewer, onRetry } = props;
  const root = useRef<HTMLDivElement>(null);
  const videoRef = useRef<HTMLVideoElement>(null);
  const engineRef = useRef<Engine | null>(null);
  const beaconsRef = useRef<ViewBeacons | null>(null);
  const [phase, setPhase] = useState<Phase>('loading');
  const [waiting, setWaiting] = useState(true);
  const [error, setError] = useState<string | null>(null);
  const [time, setTime] = useState(startAt);
  const [duration, setDuration] = useState(0);
  const [buffered, setBuffered] = useState(0);
  const [volume, setVolume] = useState(1);
  const [muted, setMuted] = useState(false);
  const [fullscreen, setFullscreen] = useState(false);
  const [engineKind, setEngineKind] = useState<string>('');
  const [playing, setPlaying] = useState<Rendition | undefined>();
  const [revision, setRevision] = useState(0);
  const [refreshes, setRefreshes] = useState(0);
  const [menuOpen, setMenuOpen] = useState(false);
  /** The viewer's choice in the quality menu. */
  const [chosen, setChosen] = useState<number | 'auto'>('auto');
  const [active, setActive] = useState(true);
  const hideTimer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  const firstSources = useRef(sources);

  const video = () => videoRef.current!;
  const position = () => videoRef.current?.currentTime ?? 0;
  const mediaDuration = () => {
    const d = videoRef.current?.duration ?? NaN;
    return Number.isFinite(d) ? d : 0;
  };
  const beaconBase = () => ({
    position_ms: position() * 1000,
    duration_ms: mediaDuration() ? mediaDuration() * 1000 : undefined,
    bitrate_bps: engineRef.current?.playing()?.bitrate,
  });

  // The engine and the view's beacons, once per player.
  useEffect(() => {
    const el = video();
    let disposed = false;
    /** A fatal error came (possibly before the engine had finished starting). */
    let failed = false;
    let firstFrame = false;
    let rebuffering = false;
    let lastSave = 0;
    let beacons = new ViewBeacons(assetId, titleId);
    beaconsRef.current = beacons;
    beacons.add('view_start', { position_ms: startAt * 1000 });

    const save = () => savePosition(viewer, assetId, el.currentTime, mediaDuration());
    const on = (type: string, handler: () => void) => {
      el.addEventListener(type, handler);
      return () => el.removeEventListener(type, handler);
    };
    const offs = [
      on('loadedmetadata', () => setDuration(mediaDuration())),
      on('durationchange', () => setDuration(mediaDuration())),
      on('timeupdate', () => {
        setTime(el.currentTime);
        if (Date.now() - lastSave > SAVE_EVERY_MS && firstFrame) {
          lastSave = Date.now();
          save();
        }
      }),
      on('progress', () => {
        const ranges = el.buffered;
        setBuffered(ranges.length ? ranges.end(ranges.length - 1) : 0);
      }),
      on('playing', () => {
        setPhase('playing');
        setWaiting(false);
        if (!firstFrame) {
          firstFrame = true;
          beacons.add('first_frame', beaconBase());
        } else if (rebuffering) {
          rebuffering = false;
          beacons.add('rebuffer_end', beaconBase());
        }
      }),
      on('pause', () => {
        if (!el.ended) setPhase('paused');
        if (firstFrame) save();
      }),
      on('waiting', () => {
        setWaiting(true);
        if (firstFrame && !el.seeking && !rebuffering) {
          rebuffering = true;
          beacons.add('rebuffer_start', beaconBase());
        }
      }),
      on('seeking', () => setWaiting(true)),
      on('seeked', () => {
        setWaiting(false);
        setTime(el.currentTime);
      }),
      on('canplay', () => setWaiting(false)),
      on('ended', () => {
        setPhase('ended');
        setWaiting(false);
        save();
        beacons.close(beaconBase());
        // Playing it again counts as another view.
        beacons = new ViewBeacons(assetId, titleId);
        beaconsRef.current = beacons;
        firstFrame = false;
        rebuffering = false;
        const restart = () => beacons.add('view_start', beaconBase());
        el.addEventListener('play', restart, { once: true });
      }),
      on('volumechange', () => {
        setVolume(el.volume);
        setMuted(el.muted);
      }),
    ];

    const heartbeat = setInterval(() => {
      if (!el.paused && !el.ended && firstFrame) beacons.add('heartbeat', beaconBase());
    }, HEARTBEAT_MS);

    const leave = () => {
      if (firstFrame) save();
      beacons.close(beaconBase(), true);
    };
    window.addEventListener('pagehide', leave);

    createEngine(el, {
      sources: firstSources.current,
      prefer,
      startAt,
      events: {
        changed: () => setRevision((r) => r + 1),
        rendition: (rendition) => {
          setPlaying(rendition);
          beacons.add('rendition_change', { ...beaconBase(), bitrate_bps: rendition.bitrate, rendition: rendition.name });
        },
        fatal: (code, message) => {
          if (disposed || failed) return;
          failed = true;
          beacons.add('error', { ...beaconBase(), error_code: code });
          beacons.flush();
          setError(message);
          setPhase('error');
          setWaiting(false);
          engineRef.current?.destroy();
          engineRef.current = null;
        },
      },
    })
      .then((engine) => {
        if (disposed || failed) {
          engine?.destroy();
          return;
        }
        if (!engine) {
          beacons.add('error', { error_code: 'unsupported' });
          setError('this browser cannot play streaming video (it has neither Media Source Extensions nor HLS)');
          setPhase('error');
          setWaiting(false);
          return;
        }
        engineRef.current = engine;
        setEngineKind(engine.kind);
        el.play().catch(() => {
          // Autoplay refused (no gesture yet): the big Play button is on screen.
          if (!disposed && !failed && el.paused) {
            setPhase('paused');
            setWaiting(false);
          }
        });
      })
      .catch((e: unknown) => {
        if (disposed) return;
        beacons.add('error', { error_code: 'engine_load' });
        setError(`the player could not be loaded (${e instanceof Error ? e.message : String(e)}); check your connection`);
        setPhase('error');
        setWaiting(false);
      });

    return () => {
      disposed = true;
      offs.forEach((off) => off());
      clearInterval(heartbeat);
      window.removeEventListener('pagehide', leave);
      if (firstFrame) save();
      beaconsRef.current?.close(beaconBase());
      engineRef.current?.destroy();
      engineRef.current = null;
    };
    // One engine per player: a new source is a new player (the page gives it a new key).
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  // Fresh signed URLs for the same files: swap their token in, without reloading.
  useEffect(() => {
    if (sources === firstSources.current) return;
    engineRef.current?.refresh(sources);
    setRefreshes((n) => n + 1);
  }, [sources]);

  useEffect(() => {
    const change = () => setFullscreen(document.fullscreenElement === root.current);
    document.addEventListener('fullscreenchange', change);
    return () => document.removeEventListener('fullscreenchange', change);
  }, []);

  const poke = () => {
    setActive(true);
    clearTimeout(hideTimer.current);
    hideTimer.current = setTimeout(() => setActive(false), HIDE_CONTROLS_MS);
  };
  useEffect(() => () => clearTimeout(hideTimer.current), []);

  const togglePlay = () => {
    const el = video();
    if (phase === 'error') return;
    if (el.paused || el.ended) el.play().catch(() => undefined);
    else el.pause();
    poke();
  };
  const seekTo = (seconds: number) => {
    const el = video();
    const end = mediaDuration();
    el.currentTime = Math.max(0, end ? Math.min(seconds, end - 0.1) : seconds);
    setTime(el.currentTime);
    poke();
  };
  const seekBy = (delta: number) => seekTo(position() + delta);
  const changeVolume = (value: number) => {
    const el = video();
    el.volume = Math.max(0, Math.min(1, value));
    el.muted = el.volume === 0;
    poke();
  };
  const toggleMute = () => {
    const el = video();
    el.muted = !el.muted;
    if (!el.muted && el.volume === 0) el.volume = 0.5;
    poke();
  };
  const toggleFullscreen = () => {
    const el = root.current!;
    const webkitVideo = video() as HTMLVideoElement & { webkitEnterFullscreen?: () => void };
    if (document.fullscreenElement) document.exitFullscreen().catch(() => undefined);
    else if (el.requestFullscreen) el.requestFullscreen().catch(() => undefined);
    else webkitVideo.webkitEnterFullscreen?.();
    poke();
  };

  // Keyboard shortcuts anywhere on the page, except while typing or where the key already does something.
  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
      if ((event.key === ' ' || event.key === 'Enter') && activatable(event.target)) return;
      if (SLIDER_KEYS.has(event.key) && slider(event.target)) return;
      switch (event.key) {
        case ' ':
        case 'k':
          togglePlay();
          break;
        case 'ArrowLeft':
          seekBy(-SEEK_STEP_S);
          break;
        case 'ArrowRight':
          seekBy(SEEK_STEP_S);
          break;
        case 'j':
          seekBy(-SEEK_BIG_STEP_S);
          break;
        case 'l':
          seekBy(SEEK_BIG_STEP_S);
          break;
        case 'ArrowUp':
          changeVolume(video().volume + VOLUME_STEP);
          break;
        case 'ArrowDown':
          changeVolume(video().volume - VOLUME_STEP);
          break;
        case 'f':
          toggleFullscreen();
          break;
        case 'm':
          toggleMute();
          break;
        default:
          return;
      }
      event.preventDefault();
    };
    document.addEventListener('keydown', onKey);
    return () => document.removeEventListener('keydown', onKey);
  });

  const engine = engineRef.current;
  const renditions = useMemo(() => (engine ? [...engine.renditions()].sort((a, b) => b.height - a.height || b.bitrate - a.bitrate) : []), [engine, revision]);
  const audioTracks = useMemo(() => engine?.audioTracks() ?? [], [engine, revision]);
  const textTracks = useMemo(() => engine?.textTracks() ?? [], [engine, revision]);
  const auto = chosen === 'auto';
  const shownRendition = playing ?? engine?.playing();
  const chosenRendition = renditions.find((r) => r.index === chosen);
  const qualityValue = chosenRendition ? chosenRendition.name : `Auto${shownRendition ? ` (${shownRendition.name})` : ''}`;

  const showControls = phase !== 'playing' || menuOpen || active;
  const centerButton = (phase === 'paused' || phase === 'ended') && !waiting;
  const end = duration || mediaDuration();

  return (
    <div
      ref={root}
      class={`player${showControls ? '' : ' player-idle'}${fullscreen ? ' player-fullscreen' : ''}`}
      data-engine={engineKind || undefined}
      data-phase={phase}
      data-rendition={shownRendition?.name}
      data-rendition-height={shownRendition?.height}
      data-auto={String(auto)}
      data-refreshes={refreshes}
      onPointerMove={poke}
      onPointerDown={poke}
      onFocusIn={poke}
      aria-label={`Video player: ${title}`}
      role="region"
    >
      <video
        ref={videoRef}
        class="player-video"
        poster={poster ?? undefined}
        playsInline
        preload="auto"
        onClick={() => (showControls ? togglePlay() : poke())}
        aria-label={title}
      />
      <div class="player-title" aria-hidden="true">
        {title}
      </div>
      {(phase === 'loading' || waiting) && phase !== 'error' && (
        <div class="player-spinner" role="status">
          <span class="visually-hidden">Loading the video…</span>
        </div>
      )}
      {centerButton && (
        <button type="button" class="player-center-play" onClick={togglePlay}>
          {phase === 'ended' ? 'Play again' : 'Play'}
        </button>
      )}
      {phase === 'error' && (
        <div class="player-error" role="alert">
          <p>
            <strong>The video stopped.</strong> {error ? error.charAt(0).toUpperCase() + error.slice(1) + '.' : ''}
          </p>
          <button type="button" onClick={() => onRetry(position())}>
            Retry
          </button>
        </div>
      )}
      {phase !== 'error' && (
      <div class="player-controls">
        <input
          class="player-seek"
          type="range"
          aria-label="Seek"
          min={0}
          max={end || 0}
          step="any"
          value={time}
          disabled={!end}
          aria-valuetext={`${formatDuration(time)} of ${formatDuration(end)}`}
          style={{ '--played': `${end ? (time / end) * 100 : 0}%`, '--buffered': `${end ? (buffered / end) * 100 : 0}%` }}
          onInput={(event) => seekTo(Number((event.currentTarget as HTMLInputElement).value))}
          onKeyDown={(event) => {
            const steps: Record<string, number> = {
              ArrowLeft: -SEEK_STEP_S,
              ArrowDown: -SEEK_STEP_S,
              ArrowRight: SEEK_STEP_S,
              ArrowUp: SEEK_STEP_S,
              PageDown: -SEEK_BIG_STEP_S,
              PageUp: SEEK_BIG_STEP_S,
            };
            if (event.key in steps) seekBy(steps[event.key]);
            else if (event.key === 'Home') seekTo(0);
            else if (event.key === 'End') seekTo(end);
            else return;
            event.preventDefault();
          }}
        />
        <div class="player-bar">
          <button type="button" class="player-button" onClick={togglePlay} aria-label={phase === 'playing' ? 'Pause' : 'Play'}>
            <Icon name={phase === 'playing' ? 'pause' : 'play'} />
          </button>
          <span class="player-time">
            <span class="visually-hidden">Position </span>
            {formatDuration(time)}
            <span class="player-time-total">
              <span aria-hidden="true"> / </span>
              <span class="visually-hidden"> of </span>
              {formatDuration(end)}
            </span>
          </span>
          <span class="player-spacer" />
          <button type="button" class="player-button" onClick={toggleMute} aria-label={muted ? 'Unmute' : 'Mute'} aria-pressed={muted}>
            <Icon name={muted || volume === 0 ? 'muted' : 'volume'} />
          </button>
          <input
            class="player-volume"
            type="range"
            aria-label="Volume"
            min={0}
            max={1}
            step={0.05}
            value={muted ? 0 : volume}
            aria-valuetext={`${Math.round((muted ? 0 : volume) * 100)} %`}
            onInput={(event) => changeVolume(Number((event.currentTarget as HTMLInputElement).value))}
          />
          {renditions.length > 0 && (
            <ChoiceMenu
              id="player-quality"
              name="Quality"
              value={qualityValue}
              short={chosenRendition ? chosenRendition.name : 'Auto'}
              onOpenChange={setMenuOpen}
              items={[
                { key: 'auto', label: `Auto${auto && shownRendition ? ` (now ${shownRendition.name})` : ''}`, checked: auto },
                ...renditions.map((r) => ({
                  key: String(r.index),
                  label: `${r.name} · ${formatBitrate(r.bitrate)}`,
                  checked: chosen === r.index,
                })),
              ]}
              onChoose={(key) => {
                const choice = key === 'auto' ? 'auto' : Number(key);
                engine?.choose(choice);
                setChosen(choice);
              }}
            />
          )}
          {audioTracks.length > 1 && (
            <ChoiceMenu
              id="player-audio"
              name="Audio"
              short="Audio"
              value={audioTracks.find((t) => t.id === engine?.audioTrack())?.label ?? 'Default'}
              onOpenChange={setMenuOpen}
              items={audioTracks.map((t) => ({ key: String(t.id), label: t.label, checked: t.id === engine?.audioTrack() }))}
              onChoose={(key) => {
                engine?.setAudioTrack(Number(key));
                setRevision((r) => r + 1);
              }}
            />
          )}
          {textTracks.length > 0 && (
            <ChoiceMenu
              id="player-subtitles"
              name="Subtitles"
              short="CC"
              value={textTracks.find((t) => t.id === engine?.textTrack())?.label ?? 'Off'}
              onOpenChange={setMenuOpen}
              items={[
                { key: '-1', label: 'Off', checked: (engine?.textTrack() ?? -1) < 0 },
                ...textTracks.map((t) => ({ key: String(t.id), label: t.label, checked: t.id === engine?.textTrack() })),
              ]}
              onChoose={(key) => {
                engine?.setTextTrack(Number(key));
                setRevision((r) => r + 1);
              }}
            />
          )}
          <button type="button" class="player-button" onClick={toggleFullscreen} aria-label={fullscreen ? 'Exit full screen' : 'Full screen'}>
            <Icon name={fullscreen ? 'exitFullscreen' : 'fullscreen'} />
          </button>
        </div>
      </div>
      )}
    </div>
  );
}
