// The streaming engines behind the player, one interface for three: hls.js where Media Source Extensions exist,
// the browser's own HLS where only that exists (Safari on iPhone), and dash.js as the fallback or when asked
// for. Each is loaded with a dynamic import, so only the watch page downloads it.

import { TokenSwap } from './tokens';

export type EngineKind = 'hls' | 'dash' | 'native';
/** What the page asks for: `auto` picks as above; `hls` and `dash` force one (where it can run). */
export type EnginePreference = 'auto' | 'hls' | 'dash';

/** One rung of the ladder. */
export interface Rendition {
  /** The engine's index for it. */
  index: number;
  width: number;
  height: number;
  bitrate: number;
  /** `720p`: what beacons and menus call it. */
  name: string;
}

/** An audio or text track. */
export interface Track {
  id: number;
  label: string;
}

export interface EngineEvents {
  /** The ladder or the tracks changed (the manifest was read, a track was switched). */
  changed(): void;
  /** The rendition on screen changed. */
  rendition(rendition: Rendition): void;
  /** Playback cannot go on: `code` for beacons, `message` for people. */
  fatal(code: string, message: string, status?: number): void;
}

export interface Engine {
  readonly kind: EngineKind;
  renditions(): Rendition[];
  /** The rendition playing now, if known. */
  playing(): Rendition | undefined;
  /** A rendition by index, or `auto`. */
  choose(index: number | 'auto'): void;
  audioTracks(): Track[];
  audioTrack(): number;
  setAudioTrack(id: number): void;
  textTracks(): Track[];
  /** -1: subtitles off. */
  textTrack(): number;
  setTextTrack(id: number): void;
  /** Fresh signed URLs for the same files: later requests carry their token. */
  refresh(urls: Sources): void;
  destroy(): void;
}

export interface Sources {
  hls: string;
  dash: string;
}

export interface EngineOptions {
  sources: Sources;
  prefer: EnginePreference;
  /** Seconds to start at. */
  startAt: number;
  events: EngineEvents;
}

function hasMse(): boolean {
  return 'MediaSource' in window || 'ManagedMediaSource' in window;
}

function nativeHls(video: HTMLVideoElement): boolean {
  return video.canPlayType('application/vnd.apple.mpegurl') !== '';
}

/** A failed download in words. */
function networkMessage(status: number | undefined): string {
  if (status === 401 || status === 403) return `the video server refused it (${status}): the link may have run out, Retry asks for a new one`;
  if (status === 404 || status === 410) return `the video server does not have it (${status})`;
  if (status) return `the video server answered ${status}`;
  return 'the video could not be downloaded: check your connection';
}

/** Name and label of a rung: `720p`. */
function rungName(height: number, bitrate: number): string {
  return height ? `${height}p` : `${Math.round(bitrate / 1000)} kb/s`;
}

/** Which engine plays here. */
export function pickEngine(video: HTMLVideoElement, prefer: EnginePreference): EngineKind | null {
  const mse = hasMse();
  if (prefer === 'dash' && mse) return 'dash';
  if (mse) return 'hls';
  if (nativeHls(video)) return 'native';
  return null;
}

/** Starts playing `sources` in `video` with the engine that fits; null when this browser can play none. */
export async function createEngine(video: HTMLVideoElement, options: EngineOptions): Promise<Engine | null> {
  const kind = pickEngine(video, options.prefer);
  if (kind === 'hls') {
    const engine = await createHls(video, options);
    if (engine) return engine;
    return createDash(video, options);
  }
  if (kind === 'dash') return createDash(video, options);
  if (kind === 'native') return createNative(video, options);
  return null;
}

async function createHls(video: HTMLVideoElement, { sources, startAt, events }: EngineOptions): Promise<Engine | null> {
  const { default: Hls } = await import('hls.js');
  if (!Hls.isSupported()) return null;
  const swap = new TokenSwap(sources.hls);
  const hls = new Hls({
    startPosition: startAt > 0 ? startAt : -1,
    // Every playlist and segment request goes out with the newest token.
    xhrSetup(xhr, url) {
      xhr.open('GET', swap.rewrite(url), true);
    },
  });
  const rendition = (index: number): Rendition | undefined => {
    const level = hls.levels[index];
    return level ? { index, width: level.width, height: level.height, bitrate: level.bitrate, name: rungName(level.height, level.bitrate) } : undefined;
  };
  let playingLevel = -1;
  let mediaRecoveries = 0;
  hls.on(Hls.Events.MANIFEST_PARSED, () => events.changed());
  hls.on(Hls.Events.AUDIO_TRACKS_UPDATED, () => events.changed());
  hls.on(Hls.Events.AUDIO_TRACK_SWITCHED, () => events.changed());
  hls.on(Hls.Events.SUBTITLE_TRACKS_UPDATED, () => events.changed());
  hls.on(Hls.Events.SUBTITLE_TRACK_SWITCH, () => events.changed());
  hls.on(Hls.Events.FRAG_CHANGED, (_event, data) => {
    if (data.frag.type !== 'main' || data.frag.level === playingLevel) return;
    playingLevel = data.frag.level;
    const now = rendition(playingLevel);
    if (now) events.rendition(now);
  });
  hls.on(Hls.Events.ERROR, (_event, data) => {
    if (!data.fatal) return;
    if (data.type === Hls.ErrorTypes.MEDIA_ERROR && mediaRecoveries < 2) {
      mediaRecoveries += 1;
      hls.recoverMediaError();
      return;
    }
    const status = data.response?.code;
    if (data.type === Hls.ErrorTypes.NETWORK_ERROR) {
      events.fatal(`network:${data.details}`, networkMessage(status), status);
    } else if (data.type === Hls.ErrorTypes.MEDIA_ERROR) {
      events.fatal(`media:${data.details}`, 'this browser could not decode the video');
    } else {
      events.fatal(`other:${data.details}`, `the player stopped (${data.details})`);
    }
  });
  hls.loadSource(sources.hls);
  hls.attachMedia(video);
  return {
    kind: 'hls',
    renditions: () => hls.levels.map((_, index) => rendition(index)!),
    playing: () => rendition(playingLevel >= 0 ? playingLevel : hls.currentLevel),
    choose(index) {
      // currentLevel switches at once (dropping what is buffered), so the choice shows without waiting.
      hls.currentLevel = index === 'auto' ? -1 : index;
    },
    audioTracks: () => hls.audioTracks.map((track) => ({ id: track.id, label: track.name || track.lang || `Track ${track.id + 1}` })),
    audioTrack: () => hls.audioTrack,
    setAudioTrack(id) {
      hls.audioTrack = id;
    },
    textTracks: () => hls.subtitleTracks.map((track) => ({ id: track.id, label: track.name || track.lang || `Subtitles ${track.id + 1}` })),
    textTrack: () => (hls.subtitleDisplay ? hls.subtitleTrack : -1),
    setTextTrack(id) {
      hls.subtitleDisplay = id >= 0;
      hls.subtitleTrack = id;
    },
    refresh(urls) {
      swap.update(urls.hls);
    },
    destroy() {
      hls.destroy();
    },
  };
}

async function createDash(video: HTMLVideoElement, { sources, startAt, events }: EngineOptions): Promise<Engine> {
  const { MediaPlayer } = await import('dashjs');
  const swap = new TokenSwap(sources.dash);
  const player = MediaPlayer().create();
  player.updateSettings({ debug: { logLevel: 0 } });
  player.addRequestInterceptor(async (request) => {
    request.url = swap.rewrite(request.url);
    return request;
  });
  const asRendition = (rep: { index: number; width: number; height: number; bandwidth: number }): Rendition => ({
    index: rep.index,
    width: rep.width,
    height: rep.height,
    bitrate: rep.bandwidth,
    name: rungName(rep.height, rep.bandwidth),
  });
  let playing: Rendition | undefined;
  const events_ = MediaPlayer.events;
  player.on(events_.STREAM_INITIALIZED, () => events.changed());
  player.on(events_.TRACK_CHANGE_RENDERED, () => events.changed());
  player.on(events_.QUALITY_CHANGE_RENDERED, (e) => {
    if (e.mediaType !== 'video' || !e.newRepresentation) return;
    playing = asRendition(e.newRepresentation);
    events.rendition(playing);
  });
  player.on(events_.ERROR, (e) => {
    const error = (e as { error?: { code?: number; message?: string } }).error;
    const code = typeof error === 'object' && error ? String(error.code ?? 'error') : String(error ?? 'error');
    events.fatal(`dash:${code}`, error && typeof error === 'object' && error.message ? error.message : 'the video could not be played');
  });
  player.on(events_.PLAYBACK_ERROR, () => events.fatal('dash:playback', 'this browser could not decode the video'));
  player.initialize(video, sources.dash, false, startAt > 0 ? startAt : undefined);
  const textTracks = () => player.getTracksFor('text');
  let textIndex = -1;
  return {
    kind: 'dash',
    renditions: () => player.getRepresentationsByType('video').map(asRendition),
    playing: () => {
      const current = player.getCurrentRepresentationForType('video');
      return playing ?? (current ? asRendition(current) : undefined);
    },
    choose(index) {
      player.updateSettings({ streaming: { abr: { autoSwitchBitrate: { video: index === 'auto' } } } });
      if (index !== 'auto') player.setRepresentationForTypeByIndex('video', index, true);
    },
    audioTracks: () => player.getTracksFor('audio').map((track, id) => ({ id, label: track.labels[0]?.text || track.lang || `Track ${id + 1}` })),
    audioTrack: () => {
      const current = player.getCurrentTrackFor('audio');
      return player.getTracksFor('audio').findIndex((track) => track === current);
    },
    setAudioTrack(id) {
      const track = player.getTracksFor('audio')[id];
      if (track) player.setCurrentTrack(track);
    },
    textTracks: () => textTracks().map((track, id) => ({ id, label: track.labels[0]?.text || track.lang || `Subtitles ${id + 1}` })),
    textTrack: () => textIndex,
    setTextTrack(id) {
      textIndex = id;
      player.enableText(id >= 0);
      if (id >= 0) player.setTextTrack(id);
    },
    refresh(urls) {
      swap.update(urls.dash);
    },
    destroy() {
      player.destroy();
    },
  };
}

function createNative(video: HTMLVideoElement, { sources, startAt, events }: EngineOptions): Engine {
  // The browser fetches everything itself, so a fresh token means loading the manifest again where we are.
  let textTrack = -1;
  const onError = () => {
    const error = video.error;
    if (!error) return;
    events.fatal(`native:${error.code}`, error.code === error.MEDIA_ERR_NETWORK ? 'the video could not be downloaded' : 'this browser could not play the video');
  };
  const onLoaded = () => {
    if (startAt > 0) video.currentTime = startAt;
    events.changed();
  };
  video.addEventListener('error', onError);
  video.addEventListener('loadedmetadata', onLoaded, { once: true });
  video.src = sources.hls;
  const texts = () => Array.from(video.textTracks).filter((track) => track.kind === 'subtitles' || track.kind === 'captions');
  return {
    kind: 'native',
    renditions: () => [],
    playing: () => undefined,
    choose() {},
    audioTracks: () => [],
    audioTrack: () => -1,
    setAudioTrack() {},
    textTracks: () => texts().map((track, id) => ({ id, label: track.label || track.language || `Subtitles ${id + 1}` })),
    textTrack: () => textTrack,
    setTextTrack(id) {
      textTrack = id;
      texts().forEach((track, index) => (track.mode = index === id ? 'showing' : 'disabled'));
      events.changed();
    },
    refresh(urls) {
      const at = video.currentTime;
      const paused = video.paused;
      video.addEventListener(
        'loadedmetadata',
        () => {
          video.currentTime = at;
          if (!paused) video.play().catch(() => undefined);
        },
        { once: true },
      );
      video.src = urls.hls;
    },
    destroy() {
      video.removeEventListener('error', onError);
      video.removeEventListener('loadedmetadata', onLoaded);
      video.removeAttribute('src');
      video.load();
    },
  };
}
