// The demo page of "ws serve": connect, send text or binary, and show each
// message received; a message that is the echo of one we sent (same type
// and content, the oldest such send) shows its round-trip time. Messages
// from others (a broadcast server) show none.
"use strict";

const $ = (id) => document.getElementById(id);
const scheme = location.protocol === "https:" ? "wss:" : "ws:";
$("url").value = scheme + "//" + location.host + "/";

let sock = null;
const pending = []; // {key, t} of our sends not yet echoed, oldest first
const maxPending = 256;

// key identifies a message's type and content, to match an echo to its send.
function key(data) {
  return typeof data === "string" ? "t:" + data : "b:" + Array.from(data, (x) => x.toString(16).padStart(2, "0")).join("");
}

// echoRTT returns the round trip of our send that data echoes, or undefined.
function echoRTT(data) {
  const k = key(data);
  const i = pending.findIndex((p) => p.key === k);
  if (i < 0) return undefined;
  const sent = pending.splice(i, 1)[0].t;
  return performance.now() - sent;
}

function log(cls, dir, text, rtt) {
  const li = document.createElement("li");
  li.className = cls;
  const d = document.createElement("span");
  d.className = "dir";
  d.textContent = dir;
  const b = document.createElement("span");
  b.className = "body";
  b.textContent = text;
  li.append(d, b);
  if (rtt !== undefined) {
    const r = document.createElement("span");
    r.className = "rtt";
    r.textContent = rtt.toFixed(1) + " ms";
    li.append(r);
  }
  $("log").prepend(li);
}

function hex(bytes) {
  const shown = Array.from(bytes.slice(0, 32), (x) => x.toString(16).padStart(2, "0")).join(" ");
  return "<binary " + bytes.length + " bytes: " + shown + (bytes.length > 32 ? " …" : "") + ">";
}

function setOpen(open) {
  $("send").disabled = !open;
  $("sendbin").disabled = !open;
  $("connect").textContent = open ? "Disconnect" : "Connect";
  const s = $("status");
  s.textContent = open ? "connected" : "disconnected";
  s.className = "status " + (open ? "open" : "closed");
}

function connect() {
  if (sock) {
    sock.close(1000, "bye");
    return;
  }
  const url = $("url").value;
  log("info", "·", "connecting to " + url);
  sock = new WebSocket(url);
  sock.binaryType = "arraybuffer";
  pending.length = 0;
  sock.onopen = () => {
    setOpen(true);
    log("info", "·", "connected" + (sock.protocol ? " (subprotocol " + sock.protocol + ")" : ""));
  };
  sock.onmessage = (ev) => {
    const data = typeof ev.data === "string" ? ev.data : new Uint8Array(ev.data);
    const rtt = echoRTT(data);
    const text = typeof data === "string" ? data : hex(data);
    log("in", "←", text, rtt);
  };
  sock.onclose = (ev) => {
    setOpen(false);
    log("info", "·", "closed: " + ev.code + (ev.reason ? " " + ev.reason : "") + (ev.wasClean ? "" : " (abnormal)"));
    sock = null;
  };
  sock.onerror = () => log("info", "·", "error");
}

function send(binary) {
  if (!sock || sock.readyState !== WebSocket.OPEN) return;
  const text = $("msg").value;
  const data = binary ? new TextEncoder().encode(text) : text;
  pending.push({ key: key(data), t: performance.now() });
  if (pending.length > maxPending) pending.shift();
  sock.send(data);
  log("out", "→", binary ? hex(data) : text);
}

$("connect").onclick = connect;
$("send").onclick = () => send(false);
$("sendbin").onclick = () => send(true);
$("msg").addEventListener("keydown", (ev) => {
  if (ev.key === "Enter") send(ev.shiftKey);
});
