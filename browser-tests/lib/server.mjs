// Tiny static HTTP servers for the browser harness (node's http module only).
//
// - createMediaServer(dir): serves DIR under /media/ with media Content-Types,
//   CORS (incl. preflight allowing Range) and single byte-range support (206).
// - createAppServer(routes): serves a fixed set of files (test page + player
//   libraries) from a *different* origin, so the page's media requests are
//   real cross-origin requests.
//
// Both bind 127.0.0.1 on an ephemeral port (listen on 0).

import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';

const MEDIA_TYPES = {
  '.m3u8': 'application/vnd.apple.mpegurl',
  '.mpd': 'application/dash+xml',
  '.mp4': 'video/mp4',
  '.m4s': 'video/mp4',
  '.m4v': 'video/mp4',
  '.m4a': 'audio/mp4',
  '.cmfv': 'video/mp4',
  '.cmfa': 'audio/mp4',
  '.ts': 'video/mp2t',
  '.aac': 'audio/aac',
  '.vtt': 'text/vtt',
  '.webvtt': 'text/vtt',
  '.json': 'application/json',
  '.xml': 'application/xml',
};

const APP_TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.map': 'application/json',
};

/** Content-Type for a media path. fMP4 in an audio-looking folder/file is audio/mp4
 * (MSE ignores HTTP Content-Type; this is for correctness of what we serve). */
export function mediaContentType(relPath) {
  const ext = path.extname(relPath).toLowerCase();
  const type = MEDIA_TYPES[ext] || 'application/octet-stream';
  if (type === 'video/mp4') {
    // e.g. audio/init.mp4, audio_en/seg_00001.m4s, a0/seg_00001.m4s, audio-init.mp4
    const parts = relPath.split('/');
    const dirs = parts.slice(0, -1);
    if (dirs.some((d) => /^(audio.*|a\d+)$/i.test(d)) || /audio/i.test(parts[parts.length - 1])) {
      return 'audio/mp4';
    }
  }
  return type;
}

/**
 * Parse a Range header against a resource size.
 * Returns null (no/ignored range -> 200 full body), {start, end} for a single
 * satisfiable range, or 'unsatisfiable' (-> 416). Multi-range requests are
 * answered with the full body (allowed by RFC 9110).
 */
export function parseRange(header, size) {
  if (!header) return null;
  const m = /^\s*bytes\s*=\s*(.+)$/i.exec(header);
  if (!m) return null;
  const specs = m[1].split(',');
  if (specs.length !== 1) return null;
  const spec = specs[0].trim();
  const r = /^(\d*)-(\d*)$/.exec(spec);
  if (!r || (r[1] === '' && r[2] === '')) return null;
  let start;
  let end;
  if (r[1] === '') {
    // suffix range: last N bytes
    const n = Number(r[2]);
    if (n === 0) return 'unsatisfiable';
    start = Math.max(0, size - n);
    end = size - 1;
  } else {
    start = Number(r[1]);
    end = r[2] === '' ? size - 1 : Math.min(Number(r[2]), size - 1);
    if (r[2] !== '' && Number(r[2]) < start) return null; // invalid -> ignore
  }
  if (start >= size || size === 0) return 'unsatisfiable';
  return { start, end };
}

function corsHeaders(req) {
  const h = {
    'Access-Control-Allow-Origin': '*',
    'Access-Control-Expose-Headers': 'Content-Length, Content-Range, Accept-Ranges, Content-Type',
  };
  if (req.method === 'OPTIONS') {
    h['Access-Control-Allow-Methods'] = 'GET, HEAD, OPTIONS';
    const asked = req.headers['access-control-request-headers'];
    h['Access-Control-Allow-Headers'] = asked ? `Range, ${asked}` : 'Range';
    h['Access-Control-Max-Age'] = '600';
  }
  return h;
}

function listen(server) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      const { port } = server.address();
      resolve({ server, port, origin: `http://127.0.0.1:${port}` });
    });
  });
}

/**
 * Serve `dir` under /media/. `log` collects {method, path, status, range}.
 */
export async function createMediaServer(dir, { log = [] } = {}) {
  const root = fs.realpathSync(dir);
  const server = http.createServer((req, res) => {
    const entry = { method: req.method, path: req.url, status: 0 };
    if (req.headers.range) entry.range = req.headers.range;
    log.push(entry);
    const send = (status, headers, body) => {
      entry.status = status;
      res.writeHead(status, { ...corsHeaders(req), 'Cache-Control': 'no-store', ...headers });
      res.end(body);
    };

    if (req.method === 'OPTIONS') return send(204, { 'Content-Length': '0' });
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      return send(405, { Allow: 'GET, HEAD, OPTIONS', 'Content-Type': 'text/plain' }, 'method not allowed\n');
    }

    let pathname;
    try {
      pathname = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    } catch {
      return send(400, { 'Content-Type': 'text/plain' }, 'bad url\n');
    }
    if (!pathname.startsWith('/media/') || pathname.includes('\0')) {
      return send(404, { 'Content-Type': 'text/plain' }, 'not found\n');
    }
    const rel = pathname.slice('/media/'.length);
    const file = path.resolve(root, rel);
    if (file !== root && !file.startsWith(root + path.sep)) {
      return send(403, { 'Content-Type': 'text/plain' }, 'forbidden\n');
    }
    let st;
    try {
      st = fs.statSync(file);
    } catch {
      return send(404, { 'Content-Type': 'text/plain' }, 'not found\n');
    }
    if (!st.isFile()) return send(404, { 'Content-Type': 'text/plain' }, 'not found\n');

    const size = st.size;
    const type = mediaContentType(rel);
    const range = parseRange(req.headers.range, size);
    if (range === 'unsatisfiable') {
      return send(416, { 'Content-Range': `bytes */${size}`, 'Content-Type': 'text/plain' }, '');
    }
    const base = { 'Content-Type': type, 'Accept-Ranges': 'bytes', 'Last-Modified': st.mtime.toUTCString() };
    let status = 200;
    let start = 0;
    let end = size - 1;
    if (range) {
      status = 206;
      ({ start, end } = range);
      base['Content-Range'] = `bytes ${start}-${end}/${size}`;
    }
    const length = size === 0 ? 0 : end - start + 1;
    base['Content-Length'] = String(length);
    entry.status = status;
    res.writeHead(status, { ...corsHeaders(req), 'Cache-Control': 'no-store', ...base });
    if (req.method === 'HEAD' || length === 0) return res.end();
    const stream = fs.createReadStream(file, { start, end });
    stream.on('error', () => res.destroy());
    stream.pipe(res);
  });
  server.keepAliveTimeout = 2000;
  return listen(server);
}

/**
 * Serve a fixed map of URL path -> absolute file path (no directory listing,
 * nothing else reachable). Unknown paths are 404.
 */
export async function createAppServer(routes, { log = [] } = {}) {
  const server = http.createServer((req, res) => {
    const pathname = new URL(req.url, 'http://x').pathname;
    const file = routes[pathname];
    const entry = { method: req.method, path: pathname, status: 0 };
    log.push(entry);
    if (!file || (req.method !== 'GET' && req.method !== 'HEAD')) {
      entry.status = 404;
      res.writeHead(404, { 'Content-Type': 'text/plain' });
      return res.end('not found\n');
    }
    fs.readFile(file, (err, body) => {
      if (err) {
        entry.status = 500;
        res.writeHead(500, { 'Content-Type': 'text/plain' });
        return res.end('read error\n');
      }
      entry.status = 200;
      res.writeHead(200, {
        'Content-Type': APP_TYPES[path.extname(file).toLowerCase()] || 'application/octet-stream',
        'Content-Length': String(body.length),
        'Cache-Control': 'no-store',
      });
      res.end(req.method === 'HEAD' ? undefined : body);
    });
  });
  server.keepAliveTimeout = 2000;
  return listen(server);
}

export function closeServer(server) {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections?.();
  });
}
