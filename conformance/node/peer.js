#!/usr/bin/env node
// Interop peer built on the `ws` npm package, driven by the Go tests in
// ../interop (see ../interop/doc.go for the protocol; ../interop/testdata/peer.py
// is the same program for Python's websockets).
//
//   node peer.js server [--deflate[=OPTS]]   listen on 127.0.0.1, print {"event":"listening","port":N}
//   node peer.js client BASE_URL             read requests from stdin, one JSON object a line:
//                                            {"id":"..","path":"/echo?id=..","protocols":[..],"deflate":false}
//                                            and connect to BASE_URL+path for each
//
// deflate (the flag, or the request field) enables permessage-deflate: true
// for ws's defaults, or an object of PerMessageDeflate options
// (serverNoContextTakeover, clientNoContextTakeover, serverMaxWindowBits,
// clientMaxWindowBits), JSON after "--deflate=" on the server. Every
// message is then compressed (threshold 0), echoes and fragments included.
//
// Every connection runs the scenario named by its path (the same in both
// roles) and reports on stdout as JSON lines tagged with the id query
// parameter: "open", "closed" {code, reason}, "error" {error}.
'use strict';

const WebSocket = require('ws');

const PERMESSAGE_DEFLATE = 'permessage-deflate';

const MAX = 64 << 20; // 64 MiB: above the largest scenario (16 MiB)
const PONG_WAIT_MS = 10000;

function report(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

// pattern returns n deterministic bytes: byte i is (i*7 + i>>8) mod 251.
// The Go tests and peer.py compute the same bytes.
function pattern(n) {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 7 + (i >> 8)) % 251;
  return b;
}

const FRAG_TEXT = 'héllo, wörld — €𝄞 ✓';

// sendFragments sends the messages of the "fragments" scenario; the Go side
// expects them in this order (see fragmentsExpected in scenarios_test.go).
async function sendFragments(ws) {
  const compress = deflated(ws);
  const send = (data, opts) =>
    new Promise((resolve, reject) => ws.send(data, opts, (err) => (err ? reject(err) : resolve())));
  // 1. Text split at every byte boundary in turn, so fragments cut code points.
  const text = Buffer.from(FRAG_TEXT, 'utf8');
  const sizes = [1, 2, 3, 1, 4, 2, 5];
  for (let off = 0, k = 0; off < text.length; k++) {
    const n = Math.min(sizes[k % sizes.length], text.length - off);
    const fin = off + n === text.length;
    await send(text.subarray(off, off + n), { binary: false, fin, compress });
    off += n;
  }
  // 2. Binary in three fragments with a ping between the first two.
  const bin = pattern(300);
  await send(bin.subarray(0, 100), { binary: true, fin: false, compress });
  ws.ping(Buffer.from('mid-message'));
  await send(bin.subarray(100, 200), { binary: true, fin: false, compress });
  await send(bin.subarray(200, 300), { binary: true, fin: true, compress });
  // 3. Text with empty first and last fragments.
  await send(Buffer.alloc(0), { binary: false, fin: false, compress });
  await send(Buffer.from('abc'), { binary: false, fin: false, compress });
  await send(Buffer.alloc(0), { binary: false, fin: true, compress });
  // 4. 1 MiB binary in 16 fragments of 64 KiB.
  const big = pattern(1 << 20);
  for (let i = 0; i < 16; i++) {
    await send(big.subarray(i << 16, (i + 1) << 16), { binary: true, fin: i === 15, compress });
  }
  // 5. 10000 bytes of binary in 1000 fragments of 10 bytes.
  const many = pattern(10000);
  for (let i = 0; i < 1000; i++) {
    await send(many.subarray(i * 10, (i + 1) * 10), { binary: true, fin: i === 999, compress });
  }
  // 6. The end marker.
  await send('fragments-done', { binary: false, compress });
}

// sendPings sends pings of 0, 5 and 125 bytes one after the other, waits for
// each pong and reports it in band as "pong-ok:N" (or "pong-bad:N" /
// "pong-timeout:N").
async function sendPings(ws) {
  const payloads = [Buffer.alloc(0), Buffer.from('hello'), pattern(125)];
  for (const p of payloads) {
    const verdict = await new Promise((resolve) => {
      const timer = setTimeout(() => {
        ws.off('pong', onPong);
        resolve('pong-timeout');
      }, PONG_WAIT_MS);
      function onPong(data) {
        clearTimeout(timer);
        ws.off('pong', onPong);
        resolve(Buffer.compare(data, p) === 0 ? 'pong-ok' : 'pong-bad');
      }
      ws.on('pong', onPong);
      ws.ping(p);
    });
    ws.send(`${verdict}:${p.length}`);
  }
}

// deflated tells whether permessage-deflate was negotiated on ws.
function deflated(ws) {
  return !!ws._extensions[PERMESSAGE_DEFLATE];
}

// deflateParams returns the negotiated permessage-deflate parameters in the
// form the Go tests compare (absent window bits are 15), or null.
function deflateParams(ws) {
  const ext = ws._extensions[PERMESSAGE_DEFLATE];
  if (!ext) return null;
  const p = ext.params || {};
  const bits = (v) => (typeof v === 'number' ? v : 15);
  return {
    server_no_context_takeover: !!p.server_no_context_takeover,
    client_no_context_takeover: !!p.client_no_context_takeover,
    server_max_window_bits: bits(p.server_max_window_bits),
    client_max_window_bits: bits(p.client_max_window_bits),
  };
}

// deflateOptions turns the deflate flag or request field into ws's
// perMessageDeflate option.
function deflateOptions(d) {
  if (!d) return false;
  return Object.assign({ threshold: 0 }, typeof d === 'object' ? d : {});
}

function echo(ws) {
  ws.on('message', (data, isBinary) => {
    // Echoes are compressed when permessage-deflate was negotiated.
    ws.send(data, { binary: isBinary, compress: deflated(ws) });
  });
}

// run starts the scenario named by path on an open connection.
function run(ws, path, id) {
  const u = new URL(path, 'ws://peer');
  const scenario = u.pathname.replace(/^\//, '');
  ws.on('close', (code, reason) => report({ id, event: 'closed', code, reason: reason.toString('utf8') }));
  ws.on('error', (err) => report({ id, event: 'error', error: String(err && err.message) }));
  report({ id, event: 'open', scenario, protocol: ws.protocol, extensions: ws.extensions, deflateParams: deflateParams(ws) });
  switch (scenario) {
    case 'echo':
      echo(ws);
      break;
    case 'fragments':
      echo(ws);
      sendFragments(ws).catch((err) => report({ id, event: 'error', error: String(err) }));
      break;
    case 'ping':
      echo(ws);
      sendPings(ws).catch((err) => report({ id, event: 'error', error: String(err) }));
      break;
    case 'subprotocol':
      echo(ws);
      ws.send('proto:' + ws.protocol);
      break;
    case 'close': {
      const code = Number(u.searchParams.get('code'));
      const reason = u.searchParams.get('reason') || '';
      ws.send('closing');
      if (code === 0) ws.close(); // a close frame without a status
      else ws.close(code, reason);
      break;
    }
    case 'invalid-utf8':
      // A text message that is not UTF-8 ("λ" then a stray 0xff): the other
      // side must fail the connection with 1007.
      ws.send(Buffer.from([0xce, 0xbb, 0xff]), { binary: false, compress: false });
      break;
    default:
      report({ id, event: 'error', error: 'unknown scenario ' + scenario });
      ws.terminate();
  }
}

function idOf(path) {
  return new URL(path, 'ws://peer').searchParams.get('id') || '';
}

function server(deflate) {
  const wss = new WebSocket.Server({
    host: '127.0.0.1',
    port: 0,
    maxPayload: MAX,
    perMessageDeflate: deflateOptions(deflate),
    // The server speaks "chat" and "superchat" and picks the first one the
    // client offered.
    handleProtocols: (protocols) => {
      for (const p of protocols) if (p === 'chat' || p === 'superchat') return p;
      return false;
    },
  });
  wss.on('listening', () => report({ event: 'listening', port: wss.address().port }));
  wss.on('connection', (ws, req) => run(ws, req.url, idOf(req.url)));
  wss.on('error', (err) => {
    report({ event: 'error', error: String(err) });
    process.exit(1);
  });
  process.stdin.on('end', () => process.exit(0));
  process.stdin.resume();
}

function client(base) {
  let buf = '';
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (chunk) => {
    buf += chunk;
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl).trim();
      buf = buf.slice(nl + 1);
      if (line) connect(base, JSON.parse(line));
    }
  });
  process.stdin.on('end', () => process.exit(0));
}

function connect(base, req) {
  const id = req.id;
  const ws = new WebSocket(base + req.path, req.protocols || [], {
    maxPayload: MAX,
    perMessageDeflate: deflateOptions(req.deflate),
    handshakeTimeout: 10000,
  });
  let opened = false;
  ws.on('open', () => {
    opened = true;
    run(ws, req.path, id);
  });
  ws.on('unexpected-response', (_req, res) => {
    report({ id, event: 'error', error: 'unexpected response ' + res.statusCode });
    ws.terminate();
  });
  ws.once('error', (err) => {
    if (!opened) report({ id, event: 'error', error: String(err && err.message) });
  });
}

const [mode, arg] = process.argv.slice(2);
if (mode === 'server') {
  if (arg === undefined) server(false);
  else if (arg === '--deflate') server(true);
  else if (arg.startsWith('--deflate=')) server(JSON.parse(arg.slice('--deflate='.length)));
  else {
    process.stderr.write('peer.js server: unknown argument ' + arg + '\n');
    process.exit(2);
  }
} else if (mode === 'client' && arg) {
  client(arg);
} else {
  process.stderr.write('usage: peer.js server [--deflate[=OPTS]] | client BASE_URL\n');
  process.exit(2);
}
