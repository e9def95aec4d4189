// In-page side of the Marquee player harness. Configured by the query string
// (set by play.mjs); publishes its state on window.__marquee, and sets
// window.__marquee.done = true when the run has finished (pass or fail).
//
// Query: protocol=hls|dash, src=<manifest URL>, seconds=<N> (optional),
//        timeoutMs=<N>, switch=1|0
(function () {
  'use strict';

  const q = new URLSearchParams(location.search);
  const cfg = {
    protocol: q.get('protocol'),
    src: q.get('src'),
    seconds: q.get('seconds') ? Number(q.get('seconds')) : null,
    timeoutMs: Number(q.get('timeoutMs') || 60000),
    doSwitch: q.get('switch') !== '0',
  };
  const PROBE_CODECS = 'video/mp4; codecs="avc1.640028,mp4a.40.2"';
  const t0 = performance.now();
  const now = () => Math.round(performance.now() - t0);
  const video = document.getElementById('video');
  video.muted = true;

  const S = (window.__marquee = {
    done: false,
    ok: false,
    reason: null,
    protocol: cfg.protocol,
    src: cfg.src,
    playerVersion: null,
    mse: { [PROBE_CODECS]: !!(window.MediaSource && MediaSource.isTypeSupported(PROBE_CODECS)) },
    serverCheck: null,
    duration: null,
    target: null,
    played: 0,
    currentTime: 0,
    ended: false,
    levels: [], // video renditions offered by the manifest
    levelsPlayed: [], // renditions actually rendered (playing fragment / rendered quality)
    audioTracks: 0,
    switch: { wanted: cfg.doSwitch, requested: false, from: null, to: null, requestedAtTime: null, renderedAtTime: null, advancedAfter: 0, ok: false },
    videoSizes: [],
    decoded: null,
    errors: [], // {source, fatal, type, details, message}
    timeline: [], // capped list of notable events, for debugging
  });

  function mark(what, extra) {
    if (!S.done && S.timeline.length < 300) S.timeline.push(Object.assign({ ms: now(), what, ct: round(video.currentTime) }, extra || {}));
  }
  function round(x) {
    return typeof x === 'number' && isFinite(x) ? Math.round(x * 1000) / 1000 : x;
  }
  function addError(e) {
    if (S.done) return;
    const err = {
      source: e.source,
      fatal: !!e.fatal,
      type: e.type == null ? '' : String(e.type),
      details: e.details == null ? '' : String(e.details),
      message: e.message == null ? '' : String(e.message).slice(0, 500),
      ms: now(),
      ct: round(video.currentTime),
    };
    S.errors.push(err);
    mark('error', { source: err.source, fatal: err.fatal, details: err.details });
    if (err.fatal) finish(false, `fatal ${err.source} error: ${err.type} ${err.details} ${err.message}`.trim());
  }
  function addPlayed(key) {
    const k = String(key);
    if (!S.levelsPlayed.includes(k)) S.levelsPlayed.push(k);
  }

  let player = null; // hls.js or dash.js instance
  let pollTimer = null;
  let timeoutTimer = null;

  function snapshot() {
    let played = 0;
    for (let i = 0; i < video.played.length; i++) played += video.played.end(i) - video.played.start(i);
    S.played = round(played);
    S.currentTime = round(video.currentTime);
    S.ended = video.ended;
    const q = video.getVideoPlaybackQuality ? video.getVideoPlaybackQuality() : {};
    S.decoded = {
      videoFrames: q.totalVideoFrames || 0,
      droppedFrames: q.droppedVideoFrames || 0,
      videoBytes: video.webkitVideoDecodedByteCount || 0,
      audioBytes: video.webkitAudioDecodedByteCount || 0,
    };
    if (S.duration == null && isFinite(video.duration) && video.duration > 0) {
      S.duration = round(video.duration);
      S.target = round(cfg.seconds != null ? cfg.seconds : Math.max(0.1, Math.min(4, video.duration - 0.5)));
      mark('target', { duration: S.duration, target: S.target });
    }
  }

  function finish(ok, reason) {
    if (S.done) return;
    snapshot();
    if (ok) {
      // Sanity: frames really decoded, audio really decoded when there is audio.
      if (S.decoded.videoFrames === 0) {
        ok = false;
        reason = 'no video frames were decoded';
      } else if (S.audioTracks > 0 && S.decoded.audioBytes === 0) {
        ok = false;
        reason = 'the stream has an audio track but no audio was decoded';
      }
    }
    S.ok = ok;
    S.reason = reason;
    mark('finish', { ok, reason });
    clearInterval(pollTimer);
    clearTimeout(timeoutTimer);
    try { video.pause(); } catch (_) { /* ignore */ }
    S.done = true;
  }

  // Decide when we are done. Runs every 250 ms.
  function poll() {
    if (S.done) return;
    snapshot();
    if (S.target == null) return;
    const legitEnd = video.ended && S.duration != null && video.currentTime >= S.duration - 0.5 && S.played > 0;
    const sw = S.switch;

    if (sw.wanted && !sw.requested && S.played >= Math.min(1, S.target / 3) && !video.ended) {
      requestSwitch();
    }
    if (sw.requested && sw.renderedAtTime != null) {
      sw.advancedAfter = round(Math.max(0, video.currentTime - sw.renderedAtTime));
      if (sw.advancedAfter >= Math.min(1, S.target / 3) || legitEnd) sw.ok = true;
    }

    if (sw.requested && sw.to == null) return finish(false, sw.error || 'quality switch impossible');
    const playedEnough = S.played >= S.target || legitEnd;
    if (!playedEnough) {
      if (video.ended) finish(false, `playback ended early at ${round(video.currentTime)}s of ${S.duration}s`);
      return;
    }
    if (!sw.wanted) return finish(true, legitEnd ? 'played to the end' : `played ${S.played}s`);
    if (sw.ok) return finish(true, `played ${S.played}s, switched ${sw.from} -> ${sw.to} and kept playing ${sw.advancedAfter}s`);
    if (legitEnd) {
      return finish(false, sw.requested
        ? `playback ended before the switch to ${sw.to} was rendered`
        : 'playback ended before a quality switch could be requested');
    }
    // else: keep waiting for the switch to be rendered (bounded by the timeout)
  }

  function pickOther(levels, current) {
    // The rendition whose bitrate differs most from the current one.
    let best = null;
    let bestDiff = -1;
    const cur = levels.find((l) => l.key === String(current));
    for (const l of levels) {
      if (l.key === String(current)) continue;
      const diff = cur ? Math.abs((l.bitrate || 0) - (cur.bitrate || 0)) : 0;
      if (diff > bestDiff) { best = l; bestDiff = diff; }
    }
    return best;
  }

  let requestSwitch = () => {};

  // ---------------------------------------------------------------- hls.js
  function startHls() {
    if (!window.Hls) return addError({ source: 'harness', fatal: true, message: 'hls.js did not load' });
    S.playerVersion = 'hls.js ' + Hls.version;
    if (!Hls.isSupported()) return addError({ source: 'harness', fatal: true, message: 'hls.js: MSE not supported in this browser' });
    const hls = (player = new Hls({ debug: false }));
    let playingLevel = null;

    hls.on(Hls.Events.ERROR, (_ev, d) => {
      addError({
        source: 'hls.js',
        fatal: d.fatal,
        type: d.type,
        details: d.details,
        message: [d.error && d.error.message, errUrl(d), d.response && d.response.code ? 'http=' + d.response.code : ''].filter(Boolean).join(' '),
      });
    });
    hls.on(Hls.Events.MANIFEST_PARSED, (_ev, d) => {
      S.levels = hls.levels.map((l, i) => ({ key: String(i), index: i, bitrate: l.bitrate, width: l.width, height: l.height, codecs: [l.videoCodec, l.audioCodec].filter(Boolean).join(',') }));
      S.audioTracks = hls.audioTracks ? hls.audioTracks.length : 0;
      mark('manifestParsed', { levels: S.levels.length, audioTracks: S.audioTracks });
      video.play().catch((e) => mark('play() rejected', { message: String(e) }));
    });
    hls.on(Hls.Events.AUDIO_TRACKS_UPDATED, (_ev, d) => {
      S.audioTracks = Math.max(S.audioTracks, (d.audioTracks || []).length);
    });
    hls.on(Hls.Events.BUFFER_CREATED, (_ev, d) => {
      const names = Object.keys(d.tracks || {});
      if (names.includes('audio') || names.includes('audiovideo')) S.audioTracks = Math.max(S.audioTracks, 1);
      mark('bufferCreated', { tracks: names.join(',') });
    });
    hls.on(Hls.Events.LEVEL_SWITCHED, (_ev, d) => mark('levelSwitched', { level: d.level }));
    hls.on(Hls.Events.FRAG_CHANGED, (_ev, d) => {
      // The fragment now *playing* (at currentTime) changed.
      if (d.frag.type !== 'main') return;
      playingLevel = d.frag.level;
      addPlayed(playingLevel);
      mark('fragChanged', { level: d.frag.level, sn: d.frag.sn });
      const sw = S.switch;
      if (sw.requested && sw.to === String(playingLevel) && sw.renderedAtTime == null) {
        sw.renderedAtTime = round(video.currentTime);
      }
    });

    function errUrl(d) {
      const u = d.url || (d.context && d.context.url) || (d.frag && d.frag.url) || '';
      return u ? 'url=' + u.replace(/^.*?\/media\//, '') : '';
    }

    requestSwitch = () => {
      const sw = S.switch;
      sw.requested = true;
      sw.requestedAtTime = round(video.currentTime);
      const current = playingLevel != null ? playingLevel : hls.currentLevel;
      sw.from = String(current);
      const other = pickOther(S.levels, current);
      if (!other) {
        sw.error = `only ${S.levels.length} video level(s) in the manifest; cannot force a quality switch (use --no-switch)`;
        mark('switchImpossible');
        return;
      }
      sw.to = other.key;
      mark('switchRequested', { from: sw.from, to: sw.to });
      hls.currentLevel = other.index; // immediate switch: flushes the buffer and reloads
    };

    hls.attachMedia(video);
    hls.loadSource(cfg.src);
  }

  // --------------------------------------------------------------- dash.js
  function startDash() {
    if (!window.dashjs || !dashjs.MediaPlayer) return addError({ source: 'harness', fatal: true, message: 'dash.js did not load' });
    const dash = (player = dashjs.MediaPlayer().create());
    S.playerVersion = 'dash.js ' + dash.getVersion();
    const E = dashjs.MediaPlayer.events;

    dash.on(E.ERROR, (e) => {
      // dash.js has no fatal flag: it raises ERROR only for failures it could not
      // recover from (manifest, download after retries, MSE/append), so we treat
      // every ERROR event as fatal.
      const er = e.error || {};
      addError({ source: 'dash.js', fatal: true, type: 'error', details: er.code, message: er.message || JSON.stringify(er).slice(0, 300) });
    });
    dash.on(E.PLAYBACK_ERROR, (e) => {
      const er = e.error || {};
      addError({ source: 'dash.js', fatal: true, type: 'playbackError', details: er.code, message: er.message || '' });
    });
    dash.on(E.STREAM_INITIALIZED, () => {
      S.levels = dash.getRepresentationsByType('video').map((r) => ({ key: String(r.id), index: r.index, id: r.id, bitrate: r.bandwidth, width: r.width, height: r.height, codecs: r.codecs }));
      S.audioTracks = dash.getTracksFor('audio').length;
      const cur = dash.getCurrentRepresentationForType('video');
      if (cur) addPlayed(cur.id);
      mark('streamInitialized', { levels: S.levels.length, audioTracks: S.audioTracks, current: cur && cur.id });
    });
    dash.on(E.QUALITY_CHANGE_REQUESTED, (e) => {
      if (e.mediaType === 'video') mark('qualityChangeRequested', { from: e.oldRepresentation && e.oldRepresentation.id, to: e.newRepresentation && e.newRepresentation.id });
    });
    dash.on(E.QUALITY_CHANGE_RENDERED, (e) => {
      if (e.mediaType !== 'video' || !e.newRepresentation) return;
      const id = String(e.newRepresentation.id);
      addPlayed(id);
      mark('qualityChangeRendered', { to: id });
      const sw = S.switch;
      if (sw.requested && sw.to === id && sw.renderedAtTime == null) sw.renderedAtTime = round(video.currentTime);
    });

    requestSwitch = () => {
      const sw = S.switch;
      sw.requested = true;
      sw.requestedAtTime = round(video.currentTime);
      const cur = dash.getCurrentRepresentationForType('video');
      sw.from = cur ? String(cur.id) : null;
      const other = pickOther(S.levels, sw.from);
      if (!other) {
        sw.error = `only ${S.levels.length} video representation(s) in the manifest; cannot force a quality switch (use --no-switch)`;
        mark('switchImpossible');
        return;
      }
      sw.to = other.key;
      mark('switchRequested', { from: sw.from, to: sw.to });
      // Manual quality: turn ABR off for video, then replace the buffer with the
      // chosen representation (dash.js 5 API).
      dash.updateSettings({ streaming: { abr: { autoSwitchBitrate: { video: false } } } });
      dash.setRepresentationForTypeById('video', other.id, true);
    };

    dash.updateSettings({ streaming: { abr: { autoSwitchBitrate: { video: true, audio: true } } } });
    dash.initialize(video, cfg.src, true);
  }

  // ---------------------------------------------------------- video element
  video.addEventListener('error', () => {
    const me = video.error || {};
    addError({ source: 'video', fatal: true, type: 'MediaError', details: me.code, message: me.message || '' });
  });
  for (const ev of ['loadedmetadata', 'playing', 'waiting', 'seeking', 'seeked', 'ended', 'stalled']) {
    video.addEventListener(ev, () => mark(ev));
  }
  video.addEventListener('resize', () => {
    const s = `${video.videoWidth}x${video.videoHeight}`;
    if (!S.videoSizes.includes(s)) S.videoSizes.push(s);
    mark('resize', { size: s });
  });

  // Direct cross-origin Range requests, to prove the media server's CORS and
  // 206 handling as a browser sees it (independent of what the players do):
  //  - 'bytes=0-6' is a CORS-safelisted Range (no preflight), as players send;
  //  - 'bytes=-7' (suffix) is not safelisted, so Chromium sends an OPTIONS
  //    preflight asking for Range first.
  async function checkServer() {
    S.serverCheck = [];
    for (const range of ['bytes=0-6', 'bytes=-7']) {
      try {
        const r = await fetch(cfg.src, { headers: { Range: range }, cache: 'no-store' });
        const body = await r.arrayBuffer();
        const c = { range, status: r.status, contentRange: r.headers.get('content-range'), contentLength: r.headers.get('content-length'), bytes: body.byteLength };
        S.serverCheck.push(c);
        if (r.status !== 206 || !/^bytes \d+-\d+\/\d+$/.test(c.contentRange || '') || c.bytes !== 7 || c.contentLength !== '7') {
          addError({ source: 'harness', fatal: true, message: 'media server range/CORS check failed: ' + JSON.stringify(c) });
        }
      } catch (e) {
        addError({ source: 'harness', fatal: true, message: `media server range/CORS check (${range}) threw: ${e}` });
      }
    }
  }

  window.addEventListener('error', (e) => addError({ source: 'page', fatal: true, type: 'uncaught', message: e.message }));
  window.addEventListener('unhandledrejection', (e) => addError({ source: 'page', fatal: true, type: 'unhandledrejection', message: String(e.reason && (e.reason.stack || e.reason)) }));

  (async function main() {
    mark('start', { protocol: cfg.protocol });
    timeoutTimer = setTimeout(() => {
      snapshot();
      finish(false, `timeout after ${cfg.timeoutMs / 1000}s: played ${S.played}s of target ${S.target}s` +
        (S.switch.requested && !S.switch.ok ? `, switch ${S.switch.from} -> ${S.switch.to} not completed` : ''));
    }, cfg.timeoutMs);
    await checkServer();
    if (S.done) return;
    try {
      if (cfg.protocol === 'hls') startHls();
      else if (cfg.protocol === 'dash') startDash();
      else addError({ source: 'harness', fatal: true, message: 'unknown protocol ' + cfg.protocol });
    } catch (e) {
      addError({ source: 'harness', fatal: true, message: 'player setup threw: ' + (e && e.stack || e) });
    }
    pollTimer = setInterval(poll, 250);
  })();
})();
