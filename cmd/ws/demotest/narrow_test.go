package demotest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// waitJS waits (bounded) until the JavaScript expression is true.
func waitJS(t *testing.T, ctx context.Context, expr string) {
	t.Helper()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(20*time.Second))); err != nil {
		log, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#log")))
		t.Fatalf("waiting for %s: %v\npage log:\n%s", expr, err, log)
	}
}

// TestDemoPageNarrow: at 390 px (a phone) nothing overflows the page
// horizontally, the status label and the buttons are whole and inside
// the viewport; a screenshot at that width shows the page.
func TestDemoPageNarrow(t *testing.T) {
	page := startServe(t)
	ctx, cancel := browserSized(t, 390, 844)
	defer cancel()
	err := chromedp.Do(ctx,
		chromedp.EmulateViewport(390, 844),
		chromedp.Navigate(page),
		chromedp.WaitVisible(chromedp.CSS("#connect")),
		chromedp.Click(chromedp.CSS("#connect")),
	)
	if err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, `document.getElementById("status").textContent === "connected"`)
	err = chromedp.Do(ctx,
		chromedp.SetValue(chromedp.CSS("#msg"), "a long message that must wrap inside the log rather than widen the page"),
		chromedp.Click(chromedp.CSS("#send")),
	)
	if err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, `document.querySelector("#log li.in .rtt") !== null`)
	// Every control and the status label: inside the viewport, not
	// clipped (its content fits its box).
	const layout = `(() => {
	  const w = document.documentElement.clientWidth, bad = [];
	  if (document.documentElement.scrollWidth > w) bad.push("page scrolls horizontally: " + document.documentElement.scrollWidth + " > " + w);
	  for (const id of ["url", "connect", "status", "msg", "send", "sendbin", "log"]) {
	    const e = document.getElementById(id), r = e.getBoundingClientRect();
	    if (r.left < 0 || r.right > w + 0.5) bad.push(id + " outside the viewport: " + r.left + ".." + r.right);
	    if (e.scrollWidth > e.clientWidth + 1 && id !== "url" && id !== "msg") bad.push(id + " clipped: " + e.scrollWidth + " > " + e.clientWidth);
	    if (r.width === 0) bad.push(id + " has no width");
	  }
	  return bad.join("; ");
	})()`
	bad, err := chromedp.Run(ctx, chromedp.Evaluate[string](layout))
	if err != nil {
		t.Fatal(err)
	}
	if bad != "" {
		t.Errorf("layout at 390 px: %s", bad)
	}
	shot, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	checkScreenshot(t, shot, 390)
	if dir := os.Getenv("WS_DEMO_SCREENSHOT_DIR"); dir != "" {
		os.WriteFile(filepath.Join(dir, "demo-390.png"), shot, 0o644)
	}
}

// TestDemoRTTOnlyForOwnEchoes: on a broadcast server the page's own
// messages do not come back; a message from another client is shown
// without a round-trip time.
func TestDemoRTTOnlyForOwnEchoes(t *testing.T) {
	bin := buildWS(t)
	page := startServeBin(t, bin, "--broadcast")
	ctx, cancel := browser(t)
	defer cancel()
	err := chromedp.Do(ctx,
		chromedp.Navigate(page),
		chromedp.WaitVisible(chromedp.CSS("#connect")),
		chromedp.Click(chromedp.CSS("#connect")),
	)
	if err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, `document.getElementById("status").textContent === "connected"`)
	err = chromedp.Do(ctx,
		chromedp.SetValue(chromedp.CSS("#msg"), "mine"),
		chromedp.Click(chromedp.CSS("#send")),
	)
	if err != nil {
		t.Fatal(err)
	}
	wsURL := "ws" + strings.TrimPrefix(page, "http")
	dial := exec.Command(bin, "dial", "--linger", "300ms", wsURL)
	dial.Stdin = strings.NewReader("from another client\n")
	if out, err := dial.CombinedOutput(); err != nil {
		t.Fatalf("ws dial: %v\n%s", err, out)
	}
	waitJS(t, ctx, `[...document.querySelectorAll("#log li.in .body")].some(e => e.textContent === "from another client")`)
	n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#log li .rtt").length`))
	if err != nil || n != 0 {
		t.Fatalf("%d round-trip times shown (%v); want none: the message was not our echo", n, err)
	}
}
