package interop

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chromiumExe is Debian's chromium.
const chromiumExe = "/usr/bin/chromium"

const (
	browserTimeout  = 120 * time.Second // the whole page run
	browserMaxBytes = 1 << 20           // the largest message the page sends
)

// browserResult is one scenario as testdata/page.html reports it.
type browserResult struct {
	Name        string `json:"name"`
	ID          string `json:"id"`
	OK          bool   `json:"ok"`
	Detail      string `json:"detail"`
	ServerClose *struct {
		Code   int    `json:"code"`
		Reason string `json:"reason"`
	} `json:"serverClose"`
	ServerDrop bool   `json:"serverDrop"` // the browser drops the connection on purpose
	Extensions string `json:"extensions"` // what the browser negotiated, when the page reports it
}

const noConnection = "no connection reached our server"

// serverRecord is what our server saw on one browser connection.
type serverRecord struct {
	closed bool // the browser closed: code and reason are its close
	code   int
	reason string
	errs   []string
	ext    string // our Extensions() on the connection
	// wireRead, wireWritten: bytes on the connection's bytestream when the
	// browser closed (-1 if unknown).
	wireRead, wireWritten int64
}

type serverRecords struct {
	mu sync.Mutex
	m  map[string]*serverRecord
}

func (r *serverRecords) update(id string, f func(*serverRecord)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	rec := r.m[id]
	if rec == nil {
		rec = &serverRecord{}
		r.m[id] = rec
	}
	f(rec)
}

func (r *serverRecords) fail(id string, format string, args ...any) {
	r.update(id, func(rec *serverRecord) { rec.errs = append(rec.errs, fmt.Sprintf(format, args...)) })
}

func (r *serverRecords) get(id string) serverRecord {
	r.mu.Lock()
	defer r.mu.Unlock()
	if rec := r.m[id]; rec != nil {
		return *rec
	}
	return serverRecord{errs: []string{noConnection}}
}

// serveBrowser is our server's side of the page's scenarios:
//
//	/echo, /subprotocol     (send "proto:"+subprotocol first), echo until the
//	                        browser closes; record its close and answer it
//	/close?code=C&reason=R  send "closing", then close with C and R (C = 0: no status)
//	/stream?n=N&text=1      send N bytes through the streaming writer, then echo
//	/halfclose              see serveHalfClose
func serveBrowser(recs *serverRecords, target string, ep endpoint) {
	defer ep.Close()
	ctx, cancel := context.WithTimeout(context.Background(), browserTimeout)
	defer cancel()
	u, err := url.Parse(target)
	if err != nil {
		return
	}
	q := u.Query()
	id := q.Get("id")
	if x, ok := ep.(interface{ Extensions() string }); ok {
		recs.update(id, func(r *serverRecord) { r.ext = x.Extensions() })
	}
	switch u.Path {
	case "/close":
		code, _ := strconv.Atoi(q.Get("code"))
		if err := ep.Send(ctx, true, []byte("closing")); err != nil {
			recs.fail(id, "Send: %v", err)
			return
		}
		if err := ep.Detach(ctx, code, q.Get("reason")); err != nil {
			recs.fail(id, "Detach(%d, %q): %v", code, q.Get("reason"), err)
		}
		recs.update(id, func(*serverRecord) {})
		return
	case "/subprotocol":
		if err := ep.Send(ctx, true, []byte("proto:"+ep.Subprotocol())); err != nil {
			recs.fail(id, "Send: %v", err)
			return
		}
	case "/stream":
		n, _ := strconv.Atoi(q.Get("n"))
		text := q.Get("text") == "1"
		if err := ep.SendParts(ctx, text, streamParts(payload(text, n))); err != nil {
			recs.fail(id, "streaming a %s message of %d bytes: %v", kindName(text), n, err)
			return
		}
	case "/halfclose":
		serveHalfClose(ctx, recs, id, ep)
		return
	}
	buf := make([]byte, browserMaxBytes+1024)
	for {
		n, text, err := ep.Recv(ctx, buf)
		if pc, ok := asPeerClose(err); ok {
			rd, wr := int64(-1), int64(-1)
			if x, ok := ep.(interface{ wireBytes() (int64, int64, bool) }); ok {
				if r, w, ok := x.wireBytes(); ok {
					rd, wr = r, w
				}
			}
			recs.update(id, func(r *serverRecord) {
				r.closed, r.code, r.reason = true, pc.code, pc.reason
				r.wireRead, r.wireWritten = rd, wr
			})
			if err := ep.Detach(ctx, pc.code, ""); err != nil {
				recs.fail(id, "Detach(%d, \"\") answering the browser's close: %v", pc.code, err)
			}
			return
		}
		if err != nil {
			recs.fail(id, "Recv: %v", err)
			return
		}
		if err := ep.Send(ctx, text, buf[:n]); err != nil {
			recs.fail(id, "Send: %v", err)
			return
		}
	}
}

// serveHalfClose reads the browser's 5 messages, sends our close (Done)
// and goes on receiving: the browser's close must come back with our code.
// (A browser drops what it had not yet sent when a close arrives, so the
// messages are all read first: data after Done is covered by the Node and
// Python half-close scenarios.)
func serveHalfClose(ctx context.Context, recs *serverRecords, id string, ep endpoint) {
	buf := make([]byte, 1024)
	for i := 1; i <= 5; i++ {
		n, _, err := ep.Recv(ctx, buf)
		if err != nil {
			recs.fail(id, "Recv message %d: %v", i, err)
			return
		}
		if want := fmt.Sprintf("m%d", i); string(buf[:n]) != want {
			recs.fail(id, "Recv: got %q, want %q", buf[:n], want)
		}
	}
	if err := ep.Done(ctx, 4000, "half-closed"); err != nil {
		recs.fail(id, "Done(4000, \"half-closed\"): %v", err)
		return
	}
	_, _, err := ep.Recv(ctx, buf)
	pc, ok := asPeerClose(err)
	if !ok {
		recs.fail(id, "Recv after Done: want the browser's close, got %v", err)
		return
	}
	recs.update(id, func(r *serverRecord) { r.closed, r.code, r.reason = true, pc.code, pc.reason })
	if err := ep.Detach(ctx, 4000, ""); err != nil {
		recs.fail(id, "Detach after Done and the browser's close: %v", err)
	}
}

// runChromium serves testdata/page.html on one port and lib's server on
// another, has headless Chromium run the page and checks both sides. With
// deflate, lib's server compresses and the page runs its deflate scenarios;
// every connection must have negotiated permessage-deflate on both sides.
func runChromium(t *testing.T, lib library, deflate bool) {
	if _, err := os.Stat(chromiumExe); err != nil {
		t.Fatalf("chromium missing (apt-get install chromium): %v", err)
	}
	recs := &serverRecords{m: map[string]*serverRecord{}}
	d := newDispatcher()
	d.anyOrigin = true
	d.handle = func(target string, ep endpoint) { serveBrowser(recs, target, ep) }
	// A second server with the default origin policy, which must refuse
	// the page's origin.
	strict := newDispatcher()
	strict.handle = func(target string, ep endpoint) {
		recs.fail(mustQuery(target).Get("id"), "the server with the default origin policy accepted a cross-origin request")
		ep.Close()
	}
	strictAddr := lib.listen(t, strict)
	var pageURL string
	if lib.servesPages {
		// Page and WebSocket on one origin: the default origin policy
		// must accept the browser.
		d.anyOrigin = false
		d.page = pageHandler(t)
		wsAddr := lib.listen(t, d)
		pageURL = "http://" + wsAddr + "/page.html?ws=" + url.QueryEscape(wsAddr)
	} else {
		wsAddr := lib.listen(t, d)
		pageURL = servePage(t) + "?ws=" + url.QueryEscape(wsAddr)
	}

	pageURL += "&strict=" + url.QueryEscape(strictAddr)
	if deflate {
		pageURL += "&deflate=1"
	}
	results, console := runPage(t, pageURL)
	if len(results) == 0 {
		t.Fatalf("the page reported nothing; console:\n%s", console)
	}
	for _, r := range results {
		t.Run(r.Name, func(t *testing.T) {
			if !r.OK {
				t.Errorf("in Chromium: %s", r.Detail)
			}
			if r.Name == "origin/cross-origin-refused" {
				strict.mu.Lock()
				refusals := strict.errs
				strict.mu.Unlock()
				if len(refusals) != 1 {
					t.Errorf("the server with the default origin policy: want 1 refused handshake, got %q", refusals)
				} else {
					t.Logf("refused: %s", refusals[0])
				}
			}
			if r.ID == "" || r.Name == "origin/cross-origin-refused" {
				return
			}
			rec := recs.get(r.ID)
			if rec.ext != "" || r.Extensions != "" {
				t.Logf("negotiated: ours %q; Chromium %q", rec.ext, r.Extensions)
			}
			if deflate && !strings.HasPrefix(rec.ext, "permessage-deflate") && !r.ServerDrop {
				t.Errorf("our server (%s) did not negotiate permessage-deflate with Chromium: Extensions() = %q", r.ID, rec.ext)
			}
			if n, err := strconv.Atoi(strings.TrimPrefix(r.Name, "deflate/echo/json/")); deflate && err == nil && n >= 65535 && rec.wireRead >= 0 {
				// Compressed both ways: under half the message's bytes on
				// the wire in each direction.
				t.Logf("%d-byte message: our server read %d bytes, wrote %d", n, rec.wireRead, rec.wireWritten)
				if rec.wireRead > int64(n/2) || rec.wireWritten > int64(n/2) {
					t.Errorf("a %d-byte JSON-like message crossed the wire uncompressed: our server read %d bytes and wrote %d", n, rec.wireRead, rec.wireWritten)
				}
			}
			if !deflate && rec.ext != "" {
				t.Errorf("our server (%s) is not configured to compress but negotiated %q with Chromium", r.ID, rec.ext)
			}
			for _, e := range rec.errs {
				if r.ServerDrop && e != noConnection {
					t.Logf("our server (%s), expected as the browser dropped the connection: %s", r.ID, e)
					continue
				}
				t.Errorf("our server (%s): %s", r.ID, e)
			}
			if want := r.ServerClose; want != nil && r.OK {
				if !rec.closed || rec.code != want.Code || rec.reason != want.Reason {
					t.Errorf("Chromium closed with %d %q; our server received closed=%v %d %q",
						want.Code, want.Reason, rec.closed, rec.code, rec.reason)
				}
			}
		})
	}
	if t.Failed() {
		t.Logf("Chromium console:\n%s", console)
	}
}

// pageHandler serves testdata/page.html as /page.html.
func pageHandler(t *testing.T) http.Handler {
	page, err := os.ReadFile(filepath.Join("testdata", "page.html"))
	if err != nil {
		t.Fatal(err)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/page.html" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(page)
	})
}

// servePage serves testdata/page.html on its own 127.0.0.1 port and
// returns its URL.
func servePage(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: pageHandler(t)}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String() + "/page.html"
}

// runPage loads pageURL in a fresh headless Chromium, waits for the page to
// finish and returns its results and console output. extra are further
// Chromium options.
func runPage(t *testing.T, pageURL string, extra ...chromedp.ExecAllocatorOption) ([]browserResult, string) {
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumExe),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.NoFirstRun,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-default-browser-check", true),
		chromedp.UserDataDir(t.TempDir()),
	}
	opts = append(opts, extra...)
	ctx, cancel := context.WithTimeout(context.Background(), browserTimeout)
	defer cancel()
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	defer acancel()
	bctx, bcancel := chromedp.NewContext(actx)
	defer bcancel()

	var mu sync.Mutex
	var console strings.Builder
	messages := chromedp.Console(bctx) // subscribed now, read below
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			mu.Lock()
			fmt.Fprintf(&console, "%s\n", m)
			mu.Unlock()
		}
	}()
	logs := func() string {
		mu.Lock()
		defer mu.Unlock()
		return console.String()
	}

	if err := chromedp.Do(bctx, chromedp.Navigate(pageURL)); err != nil {
		t.Fatalf("Chromium: navigate %s: %v\nconsole:\n%s", pageURL, err, logs())
	}
	for give := time.Now().Add(browserTimeout - 15*time.Second); ; {
		done, err := chromedp.Run(bctx, chromedp.Evaluate[bool](`window.__done === true`))
		if err != nil {
			t.Fatalf("Chromium: polling the page: %v\nconsole:\n%s", err, logs())
		}
		if done {
			break
		}
		if time.Now().After(give) {
			partial, _ := chromedp.Run(bctx, chromedp.Evaluate[string](`JSON.stringify(window.__results)`))
			t.Fatalf("Chromium: the page did not finish; results so far %s\nconsole:\n%s", partial, logs())
		}
		time.Sleep(100 * time.Millisecond)
	}
	raw, err := chromedp.Run(bctx, chromedp.Evaluate[string](`JSON.stringify(window.__results)`))
	if err != nil {
		t.Fatalf("Chromium: reading results: %v", err)
	}
	var results []browserResult
	if err := json.Unmarshal([]byte(raw), &results); err != nil {
		t.Fatalf("Chromium: results %q: %v", raw, err)
	}
	return results, logs()
}
