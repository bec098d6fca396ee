#!/usr/bin/python3
"""Interop peer built on Python's websockets (Debian python3-websockets, 10.x
legacy asyncio API), driven by the Go tests in .. (see ../doc.go for the
protocol; ../../node/peer.js is the same program for Node's ws).

  python3 peer.py server [--deflate[=OPTS]]  listen on 127.0.0.1, print {"event":"listening","port":N}
  python3 peer.py client BASE_URL            read requests from stdin, one JSON object a line:
                                             {"id":"..","path":"/echo?id=..","protocols":[..],"deflate":false}
                                             and connect to BASE_URL+path for each

deflate (the flag, or the request field) enables permessage-deflate: true
for websockets' defaults (compression="deflate"), or an object of
ServerPerMessageDeflateFactory / ClientPerMessageDeflateFactory arguments
(server_no_context_takeover, client_no_context_takeover,
server_max_window_bits, client_max_window_bits), JSON after "--deflate=" on
the server. websockets then compresses every message it sends.

Every connection runs the scenario named by its path (the same in both
roles) and reports on stdout as JSON lines tagged with the id query
parameter: "open", "closed" {code, reason}, "error" {error}.
"""

import asyncio
import json
import sys
import urllib.parse

import websockets
import websockets.frames
from websockets.extensions.permessage_deflate import (
    ClientPerMessageDeflateFactory,
    PerMessageDeflate,
    ServerPerMessageDeflateFactory,
)

MAX = 64 << 20  # 64 MiB: above the largest scenario (16 MiB)
PONG_WAIT = 10.0
PROTOCOLS = ["chat", "superchat"]
FRAG_TEXT = "héllo, wörld — €𝄞 ✓"


def report(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def pattern(n):
    """n deterministic bytes: byte i is (i*7 + i>>8) mod 251 (as in the Go tests)."""
    return bytes((i * 7 + (i >> 8)) % 251 for i in range(n))


async def send_fragments(ws):
    """The messages of the "fragments" scenario, in the order the Go side expects."""
    # 1. Text in fragments (str fragments cannot split code points).
    await ws.send(["hé", "llo, ", "wörld — ", "€𝄞 ✓"])
    assert "".join(["hé", "llo, ", "wörld — ", "€𝄞 ✓"]) == FRAG_TEXT

    # 2. Binary in three fragments with a ping between the first two.
    async def binary():
        b = pattern(300)
        yield b[:100]
        await ws.ping(b"mid-message")
        yield b[100:200]
        yield b[200:]

    await ws.send(binary())
    # 3. Text with empty first and last fragments.
    await ws.send(["", "abc", ""])
    # 4. 1 MiB binary in 16 fragments of 64 KiB.
    big = pattern(1 << 20)
    await ws.send([big[i << 16 : (i + 1) << 16] for i in range(16)])
    # 5. 10000 bytes of binary in 1000 fragments of 10 bytes.
    many = pattern(10000)
    await ws.send([many[i * 10 : (i + 1) * 10] for i in range(1000)])
    # 6. The end marker.
    await ws.send("fragments-done")


async def send_pings(ws):
    """Pings of 0, 5 and 125 bytes; each pong is reported in band as
    "pong-ok:N" (or "pong-timeout:N")."""
    for p in [b"", b"hello", pattern(125)]:
        waiter = await ws.ping(p)
        try:
            await asyncio.wait_for(waiter, PONG_WAIT)
            verdict = "pong-ok"
        except asyncio.TimeoutError:
            verdict = "pong-timeout"
        await ws.send("%s:%d" % (verdict, len(p)))


async def echo(ws):
    async for msg in ws:
        await ws.send(msg)


def deflate_params(ws, client):
    """The negotiated permessage-deflate parameters in the form the Go tests
    compare, or None."""
    for e in ws.extensions:
        if isinstance(e, PerMessageDeflate):
            ours = (e.local_no_context_takeover, e.local_max_window_bits)
            theirs = (e.remote_no_context_takeover, e.remote_max_window_bits)
            c, s = (ours, theirs) if client else (theirs, ours)
            return {"server_no_context_takeover": s[0], "client_no_context_takeover": c[0],
                    "server_max_window_bits": s[1], "client_max_window_bits": c[1]}
    return None


async def run(ws, path, ident, client):
    u = urllib.parse.urlsplit(path)
    scenario = u.path.lstrip("/")
    q = urllib.parse.parse_qs(u.query)
    report({"id": ident, "event": "open", "scenario": scenario,
            "protocol": ws.subprotocol or "",
            "extensions": ",".join(e.name for e in ws.extensions),
            "deflateParams": deflate_params(ws, client)})
    try:
        if scenario == "echo":
            await echo(ws)
        elif scenario == "fragments":
            await send_fragments(ws)
            await echo(ws)
        elif scenario == "ping":
            await send_pings(ws)
            await echo(ws)
        elif scenario == "subprotocol":
            await ws.send("proto:" + (ws.subprotocol or ""))
            await echo(ws)
        elif scenario == "close":
            await ws.send("closing")
            code = int(q["code"][0])
            if code == 0:  # a close frame without a status
                await ws.write_close_frame(websockets.frames.Close(1005, ""), b"")
            else:
                await ws.close(code, q.get("reason", [""])[0])
        elif scenario == "invalid-utf8":
            # A text message that is not UTF-8 ("λ" then a stray 0xff): the
            # other side must fail the connection with 1007.
            await ws.write_frame(True, websockets.frames.OP_TEXT, b"\xce\xbb\xff")
        else:
            report({"id": ident, "event": "error", "error": "unknown scenario " + scenario})
            ws.transport.abort()
            return
        await ws.wait_closed()
    except websockets.ConnectionClosed:
        pass
    except Exception as e:  # report, never hang
        report({"id": ident, "event": "error", "error": repr(e)})
        ws.transport.abort()
        return
    report({"id": ident, "event": "closed", "code": ws.close_code,
            "reason": ws.close_reason})


def ident_of(path):
    q = urllib.parse.parse_qs(urllib.parse.urlsplit(path).query)
    return q.get("id", [""])[0]


def options(deflate, factory):
    o = dict(max_size=MAX, max_queue=None, ping_interval=None, close_timeout=10,
             compression="deflate" if deflate else None)
    if isinstance(deflate, dict):
        o["compression"] = None
        o["extensions"] = [factory(**deflate)]
    return o


async def server(deflate):
    async def handler(ws, path):
        await run(ws, path, ident_of(path), False)

    async with websockets.serve(handler, "127.0.0.1", 0, subprotocols=PROTOCOLS,
                                **options(deflate, ServerPerMessageDeflateFactory)) as srv:
        port = srv.sockets[0].getsockname()[1]
        report({"event": "listening", "port": port})
        await stdin_eof()


async def stdin_lines():
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 20)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while True:
        line = await reader.readline()
        if not line:
            return
        yield line


async def stdin_eof():
    async for _ in stdin_lines():
        pass


async def connect(base, req):
    ident = req["id"]
    try:
        ws = await websockets.connect(base + req["path"],
                                      subprotocols=req.get("protocols") or None,
                                      open_timeout=10,
                                      **options(req.get("deflate"), ClientPerMessageDeflateFactory))
    except Exception as e:
        report({"id": ident, "event": "error", "error": repr(e)})
        return
    await run(ws, req["path"], ident, True)


async def client(base):
    tasks = set()
    async for line in stdin_lines():
        line = line.strip()
        if line:
            t = asyncio.ensure_future(connect(base, json.loads(line)))
            tasks.add(t)
            t.add_done_callback(tasks.discard)


def main():
    args = sys.argv[1:]
    if len(args) >= 1 and args[0] == "server":
        deflate = False
        for a in args[1:]:
            if a == "--deflate":
                deflate = True
            elif a.startswith("--deflate="):
                deflate = json.loads(a[len("--deflate="):])
            else:
                sys.stderr.write("peer.py server: unknown argument %s\n" % a)
                sys.exit(2)
        asyncio.run(server(deflate))
    elif len(args) == 2 and args[0] == "client":
        asyncio.run(client(args[1]))
    else:
        sys.stderr.write("usage: peer.py server [--deflate[=OPTS]] | client BASE_URL\n")
        sys.exit(2)


if __name__ == "__main__":
    main()
