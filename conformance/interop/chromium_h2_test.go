package interop

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/dillgo/ws"
)

// h2Page loads over HTTPS, fetches /fetch on the same origin (so that an
// HTTP/2 connection exists), then opens wss://<same host>/echo, has three
// messages echoed and closes with 1000 "bye". Chromium uses RFC 8441 only
// on an HTTP/2 connection that is already open and has advertised
// SETTINGS_ENABLE_CONNECT_PROTOCOL.
const h2Page = `<!doctype html><meta charset="utf-8"><title>h2</title><script>
(async () => {
  const results = [];
  const add = (name, ok, detail, id) => results.push({name, id: id || "", ok, detail: detail || ""});
  const finish = () => { window.__results = results; window.__done = true; };
  try {
    const r = await fetch("/fetch");
    const body = await r.text();
    const e = performance.getEntriesByName(r.url)[0];
    const proto = e ? e.nextHopProtocol : "?";
    add("fetch", body === "fetched" && proto === "h2", "body " + JSON.stringify(body) + ", nextHopProtocol " + proto);
  } catch (e) { add("fetch", false, String(e)); }
  const msgs = ["hello", "é".repeat(50000), new Uint8Array(70000).map((_, i) => i * 7)];
  const same = (a, b) => {
    if (typeof a === "string") return a === b;
    if (!(b instanceof ArrayBuffer) || b.byteLength !== a.length) return false;
    const v = new Uint8Array(b);
    return a.every((x, i) => v[i] === x);
  };
  try {
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("timed out")), 20000);
      const s = new WebSocket("wss://" + location.host + "/echo");
      s.binaryType = "arraybuffer";
      let i = 0;
      s.onopen = () => s.send(msgs[0]);
      s.onerror = () => reject(new Error("error event"));
      s.onmessage = (ev) => {
        if (!same(msgs[i], ev.data)) { reject(new Error("message " + i + " did not echo")); return; }
        if (++i < msgs.length) { s.send(msgs[i]); return; }
        s.close(1000, "bye");
      };
      s.onclose = (ev) => {
        clearTimeout(timer);
        if (i === msgs.length && ev.code === 1000) resolve();
        else reject(new Error("closed after " + i + " echoes: " + ev.code + " " + JSON.stringify(ev.reason)));
      };
    });
    add("websocket/echo", true, "", "echo");
  } catch (e) { add("websocket/echo", false, String(e), "echo"); }
  finish();
})();
</script>`

// h2Request is what our server saw of one request.
type h2Request struct {
	proto, method, protocol, remote string
	major                           int
	echoed                          int
	closeCode                       ws.StatusCode
	closeReason                     string
	err                             error
}

// TestChromiumHTTP2 has headless Chromium load a page over TLS with h2,
// fetch on the same origin and then open a wss:// WebSocket to
// ws.Upgrade behind net/http: the server must see the WebSocket as an
// HTTP/2 extended CONNECT (RFC 8441) on the TCP connection of the fetch,
// echo text and binary messages and receive the browser's close.
func TestChromiumHTTP2(t *testing.T) {
	reportRow(t, "Chromium", "wss:// after a fetch, to Upgrade behind net/http; the server sees extended CONNECT", "HTTP/2 (TLS, RFC 8441)")
	var mu sync.Mutex
	seen := map[string]*h2Request{}
	record := func(path string, r *http.Request) *h2Request {
		mu.Lock()
		defer mu.Unlock()
		q := &h2Request{proto: r.Proto, major: r.ProtoMajor, method: r.Method, protocol: r.Header.Get(":protocol"), remote: r.RemoteAddr}
		seen[path] = q
		return q
	}
	var conns sync.Map // remote address → true, every TCP connection
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/h2.html":
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Write([]byte(h2Page))
		case "/fetch":
			record("fetch", r)
			w.Write([]byte("fetched"))
		case "/echo":
			q := record("echo", r)
			c, err := ws.Upgrade(w, r, ws.Text)
			if err != nil {
				mu.Lock()
				q.err = err
				mu.Unlock()
				return
			}
			defer c.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			buf := make([]byte, 1<<18)
			for {
				n, f, err := c.Recv(ctx, buf)
				var ce ws.CloseError
				if errors.As(err, &ce) {
					mu.Lock()
					q.closeCode, q.closeReason = ce.Code, ce.Reason
					mu.Unlock()
					c.Detach(ctx, ce.Code, "")
					return
				}
				if err == nil {
					err = c.Send(ctx, f, buf[:n])
				}
				mu.Lock()
				if err != nil {
					q.err = err
				} else {
					q.echoed++
				}
				mu.Unlock()
				if err != nil {
					return
				}
			}
		default:
			http.NotFound(w, r)
		}
	}))
	srv.EnableHTTP2 = true
	srv.Config.ConnState = func(c net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Store(c.RemoteAddr().String(), true)
		}
	}
	srv.StartTLS()
	defer srv.Close()

	// httptest's certificate is self-signed for 127.0.0.1.
	results, console := runPage(t, srv.URL+"/h2.html", chromedp.Flag("ignore-certificate-errors", true))
	if len(results) == 0 {
		t.Fatalf("the page reported nothing; console:\n%s", console)
	}
	for _, r := range results {
		if !r.OK {
			t.Errorf("in Chromium, %s: %s", r.Name, r.Detail)
		} else if r.Detail != "" {
			t.Logf("in Chromium, %s: %s", r.Name, r.Detail)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	f, e := seen["fetch"], seen["echo"]
	if f == nil || e == nil {
		t.Fatalf("our server saw fetch %+v, echo %+v; console:\n%s", f, e, console)
	}
	t.Logf("fetch: %s %s from %s; WebSocket: %s %s :protocol %q from %s", f.proto, f.method, f.remote, e.proto, e.method, e.protocol, e.remote)
	if f.major != 2 {
		t.Errorf("the fetch came as %s, want HTTP/2", f.proto)
	}
	if e.major != 2 || e.method != http.MethodConnect || e.protocol != "websocket" {
		t.Errorf("the WebSocket came as %s %s (:protocol %q), want HTTP/2 CONNECT with :protocol websocket (RFC 8441)", e.proto, e.method, e.protocol)
	}
	if e.remote != f.remote {
		t.Errorf("the WebSocket came on the TCP connection from %s, the fetch on %s: want one HTTP/2 connection", e.remote, f.remote)
	}
	if e.err != nil {
		t.Errorf("our server: %v", e.err)
	}
	if e.echoed != 3 || e.closeCode != 1000 || e.closeReason != "bye" {
		t.Errorf("our server echoed %d messages (want 3) and received close %d %q (want 1000 \"bye\")", e.echoed, e.closeCode, e.closeReason)
	}
	n := 0
	conns.Range(func(any, any) bool { n++; return true })
	t.Logf("TCP connections to our server: %d", n)
	if t.Failed() {
		t.Logf("Chromium console:\n%s", console)
	}
}
