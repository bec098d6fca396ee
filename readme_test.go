package ws

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestREADMEQuickStart builds the README's quick-start server and client
// from README.md itself, runs the client against the server fifty times,
// and checks that every connection ended cleanly: the client printed the
// echo and exited 0, and no server socket is left in CLOSE-WAIT (a server
// that never closes what the client closed).
func TestREADMEQuickStart(t *testing.T) {
	if testing.Short() {
		t.Skip("builds two programs")
	}
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	server, client := quickStart(t, string(readme))
	port := freePort(t)
	addr := "127.0.0.1:" + strconv.Itoa(port)
	server = strings.ReplaceAll(server, "127.0.0.1:8080", addr)
	client = strings.ReplaceAll(client, "127.0.0.1:8080", addr)

	root, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name, text string) {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("go.mod", "module quickstart\n\ngo 1.25\n\nrequire github.com/dillgo/ws v0.0.0\n\nreplace github.com/dillgo/ws => "+root+"\n")
	write("server/main.go", server)
	write("client/main.go", client)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	for _, prog := range []string{"server", "client"} {
		cmd := exec.CommandContext(ctx, "go", "build", "-o", filepath.Join(dir, prog+".bin"), "./"+prog)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("building the README's %s: %v\n%s", prog, err, out)
		}
	}
	srv := exec.CommandContext(ctx, filepath.Join(dir, "server.bin"))
	srv.Stderr = os.Stderr
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { srv.Process.Kill(); srv.Wait() }()
	waitListening(t, addr)
	for i := 0; i < 50; i++ {
		out, err := exec.CommandContext(ctx, filepath.Join(dir, "client.bin")).CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != "Hello, world!" {
			t.Fatalf("client run %d: %v\n%s", i, err, out)
		}
	}
	// The server closes its side right after answering the close: allow
	// it a moment, then no socket of its port may wait in CLOSE-WAIT.
	deadline := time.Now().Add(5 * time.Second)
	for {
		n := closeWaits(t, port)
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d server sockets left in CLOSE-WAIT after 50 clean closes", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// quickStart returns the first two Go blocks of the README's quick start.
func quickStart(t *testing.T, readme string) (server, client string) {
	t.Helper()
	i := strings.Index(readme, "## Quick start")
	if i < 0 {
		t.Fatal("README has no quick start")
	}
	var blocks []string
	rest := readme[i:]
	for len(blocks) < 2 {
		a := strings.Index(rest, "```go\n")
		if a < 0 {
			t.Fatalf("the quick start has %d Go blocks, want 2", len(blocks))
		}
		rest = rest[a+len("```go\n"):]
		b := strings.Index(rest, "```")
		blocks = append(blocks, rest[:b])
		rest = rest[b+3:]
	}
	return blocks[0], blocks[1]
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func waitListening(t *testing.T, addr string) {
	t.Helper()
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return
		}
	}
	t.Fatalf("nothing listens on %s", addr)
}

// closeWaits counts the TCP sockets whose local port is port in state
// CLOSE-WAIT (08 in /proc/net/tcp).
func closeWaits(t *testing.T, port int) int {
	t.Helper()
	n := 0
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		fh, err := os.Open(f)
		if err != nil {
			if f == "/proc/net/tcp" {
				t.Fatal(err)
			}
			continue
		}
		s := bufio.NewScanner(fh)
		for s.Scan() {
			fields := strings.Fields(s.Text())
			if len(fields) < 4 || !strings.HasSuffix(fields[1], fmt.Sprintf(":%04X", port)) {
				continue
			}
			if fields[3] == "08" {
				n++
			}
		}
		fh.Close()
	}
	return n
}
