// Unit tests for the harness's static media server (node --test).
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
import { createMediaServer, closeServer, parseRange, mediaContentType } from './server.mjs';

function request(port, method, p, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path: p, headers }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('parseRange', () => {
  assert.equal(parseRange(undefined, 10), null);
  assert.deepEqual(parseRange('bytes=0-3', 10), { start: 0, end: 3 });
  assert.deepEqual(parseRange('bytes=5-', 10), { start: 5, end: 9 });
  assert.deepEqual(parseRange('bytes=-4', 10), { start: 6, end: 9 });
  assert.deepEqual(parseRange('bytes=8-100', 10), { start: 8, end: 9 });
  assert.equal(parseRange('bytes=10-', 10), 'unsatisfiable');
  assert.equal(parseRange('bytes=0-1,4-5', 10), null); // multi-range: full body
  assert.equal(parseRange('items=0-1', 10), null);
  assert.equal(parseRange('bytes=5-2', 10), null);
});

test('content types', () => {
  assert.equal(mediaContentType('master.m3u8'), 'application/vnd.apple.mpegurl');
  assert.equal(mediaContentType('manifest.mpd'), 'application/dash+xml');
  assert.equal(mediaContentType('v0/init.mp4'), 'video/mp4');
  assert.equal(mediaContentType('v0/seg_00001.m4s'), 'video/mp4');
  assert.equal(mediaContentType('audio/seg_00001.m4s'), 'audio/mp4');
  assert.equal(mediaContentType('a1/init.mp4'), 'audio/mp4');
});

test('media server: CORS, ranges, traversal', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'marquee-srv-'));
  fs.mkdirSync(path.join(dir, 'v0'));
  fs.writeFileSync(path.join(dir, 'v0', 'seg_00001.m4s'), Buffer.from('0123456789'));
  fs.writeFileSync(path.join(dir, 'master.m3u8'), '#EXTM3U\n');
  const { server, port } = await createMediaServer(dir);
  try {
    let r = await request(port, 'GET', '/media/master.m3u8');
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-type'], 'application/vnd.apple.mpegurl');
    assert.equal(r.headers['access-control-allow-origin'], '*');

    r = await request(port, 'GET', '/media/v0/seg_00001.m4s', { Range: 'bytes=2-4' });
    assert.equal(r.status, 206);
    assert.equal(r.headers['content-range'], 'bytes 2-4/10');
    assert.equal(r.headers['content-length'], '3');
    assert.equal(r.body.toString(), '234');
    assert.match(r.headers['access-control-expose-headers'], /Content-Range/);
    assert.match(r.headers['access-control-expose-headers'], /Content-Length/);

    r = await request(port, 'GET', '/media/v0/seg_00001.m4s', { Range: 'bytes=20-' });
    assert.equal(r.status, 416);
    assert.equal(r.headers['content-range'], 'bytes */10');

    r = await request(port, 'HEAD', '/media/v0/seg_00001.m4s');
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-length'], '10');
    assert.equal(r.body.length, 0);

    r = await request(port, 'OPTIONS', '/media/v0/seg_00001.m4s', {
      Origin: 'http://127.0.0.1:1',
      'Access-Control-Request-Method': 'GET',
      'Access-Control-Request-Headers': 'range',
    });
    assert.equal(r.status, 204);
    assert.match(r.headers['access-control-allow-headers'], /range/i);
    assert.match(r.headers['access-control-allow-methods'], /GET/);

    r = await request(port, 'GET', '/media/../../etc/passwd');
    assert.ok(r.status === 403 || r.status === 404, `traversal got ${r.status}`);
    r = await request(port, 'GET', '/media/%2e%2e/%2e%2e/etc/passwd');
    assert.ok(r.status === 403 || r.status === 404, `encoded traversal got ${r.status}`);
    r = await request(port, 'GET', '/media/missing.m4s');
    assert.equal(r.status, 404);
  } finally {
    await closeServer(server);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
