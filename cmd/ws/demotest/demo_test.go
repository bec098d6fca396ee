package demotest

import (
	"bufio"
	"bytes"
	"context"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

const chromium = "/usr/bin/chromium"

// buildWS builds ws from ../ (once per test).
func buildWS(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "ws")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir = ".."
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building ws: %v\n%s", err, out)
	}
	return bin
}

// startServe builds ws, runs "ws serve" with args on a free loopback
// port and returns the demo page's URL.
func startServe(t *testing.T, args ...string) string {
	t.Helper()
	return startServeBin(t, buildWS(t), args...)
}

func startServeBin(t *testing.T, bin string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"serve", "-addr", "127.0.0.1:0", "-v"}, args...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("ws serve log:\n%s", logs.String())
		}
	})
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var banner string
	select {
	case banner = <-lines:
	case <-time.After(20 * time.Second):
		t.Fatal("ws serve printed no URL")
	}
	// listening on ws://127.0.0.1:PORT/ (demo page: http://127.0.0.1:PORT/)
	// (a note may follow: "; echo: idle connections parked in a poller")
	i := strings.Index(banner, "demo page: ")
	if i < 0 {
		t.Fatalf("banner %q", banner)
	}
	url, _, ok := strings.Cut(banner[i+len("demo page: "):], ")")
	if !ok {
		t.Fatalf("banner %q", banner)
	}
	return url
}

func browser(t *testing.T) (context.Context, context.CancelFunc) {
	return browserSized(t, 1000, 700)
}

func browserSized(t *testing.T, width, height int) (context.Context, context.CancelFunc) {
	t.Helper()
	if _, err := os.Stat(chromium); err != nil {
		t.Fatalf("Chromium is required: %v", err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.NoFirstRun,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-default-browser-check", true),
		chromedp.WindowSize(width, height),
		chromedp.UserDataDir(t.TempDir()),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	bctx, bcancel := chromedp.NewContext(actx)
	return bctx, func() { bcancel(); acancel(); cancel() }
}

// TestDemoPage connects from the demo page, sends text and binary, sees
// both echoes with their round-trip time, and checks a screenshot.
func TestDemoPage(t *testing.T) {
	page := startServe(t)
	ctx, cancel := browser(t)
	defer cancel()

	poll := func(expr string) {
		t.Helper()
		if _, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(20*time.Second))); err != nil {
			log, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#log")))
			t.Fatalf("waiting for %s: %v\npage log:\n%s", expr, err, log)
		}
	}
	err := chromedp.Do(ctx,
		chromedp.Navigate(page),
		chromedp.WaitVisible(chromedp.CSS("#connect")),
	)
	if err != nil {
		t.Fatal(err)
	}
	url, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("url").value`))
	if err != nil || url != "ws"+strings.TrimPrefix(page, "http") {
		t.Fatalf("prefilled URL %q (%v), want the page's own server", url, err)
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#connect"))); err != nil {
		t.Fatal(err)
	}
	poll(`document.getElementById("status").textContent === "connected"`)

	const msg = "hello from chromium"
	err = chromedp.Do(ctx,
		chromedp.SetValue(chromedp.CSS("#msg"), msg),
		chromedp.Click(chromedp.CSS("#send")),
	)
	if err != nil {
		t.Fatal(err)
	}
	poll(`[...document.querySelectorAll("#log li.in .body")].some(e => e.textContent === "hello from chromium")`)
	poll(`/^[0-9.]+ ms$/.test(document.querySelector("#log li.in .rtt").textContent)`)

	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#sendbin"))); err != nil {
		t.Fatal(err)
	}
	poll(`[...document.querySelectorAll("#log li.in .body")].some(e => e.textContent.startsWith("<binary 19 bytes: 68 65 6c 6c 6f"))`)

	shot, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	checkScreenshot(t, shot, 500)
	if dir := os.Getenv("WS_DEMO_SCREENSHOT_DIR"); dir != "" {
		os.WriteFile(filepath.Join(dir, "demo.png"), shot, 0o644)
	}

	text, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#log")))
	if err != nil || !strings.Contains(text, msg) || !strings.Contains(text, "connected") {
		t.Fatalf("page log %q (%v)", text, err)
	}

	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#connect"))); err != nil {
		t.Fatal(err)
	}
	poll(`document.getElementById("status").textContent === "disconnected"`)
	poll(`document.getElementById("log").textContent.includes("closed: 1000")`)
}

// checkScreenshot decodes the PNG and checks that it shows a rendered
// page: the expected size, many colours, and the dark header band above a
// light body.
func checkScreenshot(t *testing.T, shot []byte, minWidth int) {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(shot))
	if err != nil {
		t.Fatalf("screenshot is not a PNG: %v", err)
	}
	b := img.Bounds()
	if b.Dx() < minWidth || b.Dy() < 300 {
		t.Fatalf("screenshot %v too small", b)
	}
	colours := map[uint32]bool{}
	for y := b.Min.Y; y < b.Max.Y; y += 3 {
		for x := b.Min.X; x < b.Max.X; x += 3 {
			r, g, bl, _ := img.At(x, y).RGBA()
			colours[r>>8<<16|g>>8<<8|bl>>8] = true
		}
	}
	if len(colours) < 20 {
		t.Fatalf("screenshot has %d colours: blank page?", len(colours))
	}
	if l := luma(img, b.Min.X+5, b.Min.Y+5); l > 0.3 {
		t.Errorf("header not dark (luma %.2f)", l)
	}
	if l := luma(img, b.Max.X-5, b.Max.Y-5); l < 0.8 {
		t.Errorf("page body not light (luma %.2f)", l)
	}
}

func luma(img image.Image, x, y int) float64 {
	r, g, b, _ := img.At(x, y).RGBA()
	return (0.299*float64(r) + 0.587*float64(g) + 0.114*float64(b)) / 0xffff
}
