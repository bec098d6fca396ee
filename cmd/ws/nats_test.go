package main

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
	"sync"
	"testing"
	"time"

	"github.com/dillgo/ws"
)

// The --nats tests run a real nats-server process, installed by
// scripts/test.sh (go install github.com/nats-io/nats-server/v2@v2.15.3).
// A missing nats-server fails them.

// natsServerBin finds nats-server on PATH or in $(go env GOPATH)/bin.
func natsServerBin(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("nats-server"); err == nil {
		return p
	}
	out, err := exec.Command(goTool(), "env", "GOPATH").Output()
	if err == nil {
		for _, dir := range filepath.SplitList(strings.TrimSpace(string(out))) {
			if p := filepath.Join(dir, "bin", "nats-server"); fileExists(p) {
				return p
			}
		}
	}
	t.Fatal("nats-server not found on PATH nor in $(go env GOPATH)/bin: run bash scripts/test.sh, or go install github.com/nats-io/nats-server/v2@v2.15.3")
	return ""
}

type natsServer struct {
	t    *testing.T
	port int
	url  string
	args []string
	cmd  *exec.Cmd
	done chan struct{}
	log  *lineLog // its output, shown if the test fails
}

// startNATSServer runs nats-server on 127.0.0.1 (a free port) with the
// extra args, and waits (bounded) until it answers with INFO.
func startNATSServer(t *testing.T, args ...string) *natsServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	ns := &natsServer{t: t, port: port, url: fmt.Sprintf("nats://127.0.0.1:%d", port), args: args, log: newLineLog()}
	ns.start()
	t.Cleanup(func() {
		ns.kill()
		if t.Failed() {
			t.Logf("nats-server's log:\n%s", ns.log)
		}
	})
	return ns
}

func (ns *natsServer) start() {
	t := ns.t
	t.Helper()
	args := append([]string{"-a", "127.0.0.1", "-p", strconv.Itoa(ns.port)}, ns.args...)
	ns.cmd = exec.Command(natsServerBin(t), args...)
	out, err := ns.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	ns.cmd.Stdout = ns.cmd.Stderr
	if err := ns.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ns.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			ns.log.add(sc.Text())
		}
		cmd.Wait()
		close(done)
	}(ns.cmd, ns.done)
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", ns.port), time.Second)
		if err == nil {
			c.SetDeadline(time.Now().Add(5 * time.Second))
			line, rerr := bufio.NewReader(c).ReadString('\n')
			c.Close()
			if rerr == nil && strings.HasPrefix(line, "INFO ") {
				return
			}
		}
		select {
		case <-ns.done:
			t.Fatal("nats-server exited at start")
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("nats-server not ready in 10 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// kill ends the server at once (SIGKILL: its clients see the TCP cut).
func (ns *natsServer) kill() {
	if ns.cmd == nil {
		return
	}
	ns.cmd.Process.Kill()
	select {
	case <-ns.done:
	case <-time.After(10 * time.Second):
		ns.t.Error("nats-server did not exit after SIGKILL")
	}
	ns.cmd = nil
}

// natsMessages is how many messages TestServeNATSThreeNodes publishes
// in all (WS_NATS_MESSAGES overrides).
func natsMessages() int {
	if n, err := strconv.Atoi(os.Getenv("WS_NATS_MESSAGES")); err == nil && n > 0 {
		return n
	}
	if raceEnabled {
		return 1200
	}
	return 3000
}

// seqCheck checks one receiver's messages "p<publisher> <seq>": each
// publisher's sequence from 0, no gap (lost or reordered), no repeat.
type seqCheck struct {
	next map[string]int
	got  int
}

func (c *seqCheck) check(msg string) error {
	pub, seq, ok := strings.Cut(msg, " ")
	n, err := strconv.Atoi(seq)
	if !ok || err != nil || !strings.HasPrefix(pub, "p") {
		return fmt.Errorf("unexpected message %q", msg)
	}
	if want := c.next[pub]; n != want {
		return fmt.Errorf("publisher %s: message %d, want %d (lost, repeated or reordered)", pub, n, want)
	}
	c.next[pub]++
	c.got++
	return nil
}

// TestServeNATSThreeNodes: three ws serve --broadcast --nats processes
// share one broadcast through a nats-server process; 30 in-test clients
// and 3 ws dial processes spread over them, two publishing clients per
// node. Every receiver gets every message of the others exactly once,
// each publisher's in order; then a fence from each node proves that no
// late duplicate followed (a node's own message coming back through NATS
// would arrive before the other nodes' fences).
func TestServeNATSThreeNodes(t *testing.T) {
	ns := startNATSServer(t)
	const perNode, pubsPerNode = 10, 2
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var nodes []*served
	var clients [][]*ws.Conn // per node
	var dials []*proc
	for i := range 3 {
		s := serve(t, "--broadcast", "--nats", ns.url, "--subject", "room.three", "-v",
			"--queue-bytes", strconv.Itoa(64<<20), "--max-lag", "1m")
		nodes = append(nodes, s)
		var cs []*ws.Conn
		for range perNode {
			c, _, err := ws.Dial(ctx, s.url, ws.Text)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Close() })
			cs = append(cs, c)
		}
		clients = append(clients, cs)
		dials = append(dials, start(t, "dial", s.url))
		s.errOut.waitFor(t, `msg="joined the broadcast"`, perNode+1)
		_ = i
	}
	pubs := 3 * pubsPerNode
	perPub := natsMessages() / pubs
	total := pubs * perPub

	// Every receiver reads what it is owed (all but its own), then the
	// fences of the nodes other than its own fence sender's.
	var counted, recv sync.WaitGroup
	errs := make(chan error, 64)
	receive := func(name string, next func() (string, error), own, fences int) {
		counted.Add(1)
		recv.Add(1)
		go func() {
			defer recv.Done()
			ck := seqCheck{next: map[string]int{}}
			for ck.got < total-own {
				msg, err := next()
				if err == nil {
					err = ck.check(msg)
				}
				if err != nil {
					errs <- fmt.Errorf("%s after %d of %d: %w", name, ck.got, total-own, err)
					counted.Done()
					return
				}
			}
			counted.Done()
			for f := 0; f < fences; f++ {
				msg, err := next()
				if err != nil || !strings.HasPrefix(msg, "fence ") {
					errs <- fmt.Errorf("%s: %q (%v) where a fence was due: a duplicate", name, msg, err)
					return
				}
			}
		}()
	}
	for n, cs := range clients {
		for i, c := range cs {
			own, fences := 0, 3
			if i < pubsPerNode {
				own = perPub
			}
			if i == pubsPerNode {
				fences = 2 // the fence sender does not get its own
			}
			buf := make([]byte, 256)
			receive(fmt.Sprintf("node %d client %d", n, i), func() (string, error) {
				k, _, err := c.Recv(ctx, buf)
				return string(buf[:k]), err
			}, own, fences)
		}
	}
	for n, d := range dials {
		receive(fmt.Sprintf("node %d ws dial", n), func() (string, error) {
			select {
			case s, ok := <-d.out:
				if !ok {
					return "", fmt.Errorf("ws dial exited; stderr:\n%s", d.errOut)
				}
				return s, nil
			case <-ctx.Done():
				return "", ctx.Err()
			}
		}, 0, 3)
	}

	var pub sync.WaitGroup
	for p := range pubs {
		c := clients[p/pubsPerNode][p%pubsPerNode]
		pub.Go(func() {
			for i := range perPub {
				if err := c.Send(ctx, ws.Text, fmt.Appendf(nil, "p%d %d", p, i)); err != nil {
					errs <- fmt.Errorf("publisher %d: %v", p, err)
					return
				}
			}
		})
	}
	pub.Wait()
	counted.Wait()
	for n, cs := range clients {
		if err := cs[pubsPerNode].Send(ctx, ws.Text, fmt.Appendf(nil, "fence %d", n)); err != nil {
			t.Fatal(err)
		}
	}
	recv.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	receivers := 3 * (perNode + 1)
	deliveries := total*receivers - pubs*perPub
	for i, s := range nodes {
		if code := s.stop(); code != 0 {
			t.Fatalf("node %d exited %d; stderr:\n%s", i, code, s.errOut)
		}
		log := s.errOut.String()
		if strings.Contains(log, "dropped a slow client") || strings.Contains(log, "lost the NATS") || strings.Contains(log, "messages lost") || strings.Contains(log, "not sent to NATS") || !strings.Contains(log, " lost=0 ") {
			t.Fatalf("node %d log:\n%s", i, log)
		}
	}
	t.Logf("%d messages from %d publishers on 3 ws serve --nats processes, %d receivers: %d deliveries checked; 0 lost, 0 reordered, 0 duplicated",
		total, pubs, receivers, deliveries)
}

// TestServeNATSRestart: the nats-server process is killed in the middle
// of a run and started again on the same port. Node a's publisher sends
// 200 messages before, 200 while NATS is away and 200 once both nodes
// reconnected: a's own client gets all 600; b's clients get the first and
// the last 200, in order, and none of the 200 published during the
// outage (at-most-once: a knew it was disconnected, and dropped them).
func TestServeNATSRestart(t *testing.T) {
	ns := startNATSServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	a := serve(t, "--broadcast", "--nats", ns.url, "-v")
	b := serve(t, "--broadcast", "--nats", ns.url, "-v")
	dial := func(s *served, n int) []*ws.Conn {
		var cs []*ws.Conn
		for range n {
			c, _, err := ws.Dial(ctx, s.url, ws.Text)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Close() })
			cs = append(cs, c)
		}
		s.errOut.waitFor(t, `msg="joined the broadcast"`, n)
		return cs
	}
	ac := dial(a, 2)
	pub, local := ac[0], ac[1]
	remote := dial(b, 3)
	seq := 0
	send := func(n int) {
		for range n {
			if err := pub.Send(ctx, ws.Text, fmt.Appendf(nil, "p0 %d", seq)); err != nil {
				t.Fatal(err)
			}
			seq++
		}
	}
	expect := func(c *ws.Conn, from, to int, who string) {
		buf := make([]byte, 64)
		for want := from; want < to; want++ {
			k, _, err := c.Recv(ctx, buf)
			if err != nil {
				t.Fatalf("%s, waiting for message %d: %v", who, want, err)
			}
			if got := string(buf[:k]); got != fmt.Sprintf("p0 %d", want) {
				t.Fatalf("%s: %q, want p0 %d", who, got, want)
			}
		}
	}
	send(200)
	expect(local, 0, 200, "a's client")
	for i, c := range remote {
		expect(c, 0, 200, fmt.Sprintf("b's client %d", i))
	}
	ns.kill()
	a.errOut.waitFor(t, "lost the NATS connection", 1)
	b.errOut.waitFor(t, "lost the NATS connection", 1)
	send(200)
	expect(local, 200, 400, "a's client during the outage")
	ns.start()
	a.errOut.waitFor(t, `msg="connected to NATS"`, 2)
	b.errOut.waitFor(t, `msg="connected to NATS"`, 2)
	send(200)
	expect(local, 400, 600, "a's client after the reconnection")
	for i, c := range remote {
		// The next message b's clients get is the first one published
		// after the reconnection: the outage's 200 are lost, none
		// arrives late or out of order.
		expect(c, 400, 600, fmt.Sprintf("b's client %d after the reconnection", i))
	}
	if code := a.stop(); code != 0 {
		t.Fatalf("a exited %d", code)
	}
	b.stop()
	if !strings.Contains(a.errOut.String(), "published=400 received=0 lost=200 ") ||
		!strings.Contains(b.errOut.String(), "published=0 received=400 lost=0 ") {
		t.Fatalf("stats:\na: %s\nb: %s", a.errOut, b.errOut)
	}
	if a.errOut.count("messages lost: not connected to NATS") != 1 {
		t.Fatalf("a's log:\n%s", a.errOut)
	}
	t.Logf("600 published on a: a's client got 600; each of b's 3 clients got 400 (200 lost while NATS was away, then delivery resumed), 0 reordered, 0 duplicated")
}

// TestServeNATSAuth: user and password, or a token, from the URL.
func TestServeNATSAuth(t *testing.T) {
	ns := startNATSServer(t, "--user", "alice", "--pass", "s3cret")
	s := serve(t, "--broadcast", "--nats", "nats://alice:s3cret@127.0.0.1:"+strconv.Itoa(ns.port))
	s.stop()
	r := runWS(t, "", "serve", "-addr", "127.0.0.1:0", "--broadcast", "--nats", "nats://alice:wrong@127.0.0.1:"+strconv.Itoa(ns.port))
	if r.code == 0 || !strings.Contains(r.stderr, "Authorization Violation") {
		t.Fatalf("wrong password: exit %d, stderr %q", r.code, r.stderr)
	}
	tok := startNATSServer(t, "--auth", "t0ken")
	s = serve(t, "--broadcast", "--nats", "nats://t0ken@127.0.0.1:"+strconv.Itoa(tok.port))
	s.stop()
}

// TestServeNATSLimits: a message over the server's max_payload reaches
// the node's own clients, is refused for NATS with a log line, and the
// connection stays up (the next message crosses); the server's PINGs
// (every 50 ms here) are answered, so it never drops the node.
func TestServeNATSLimits(t *testing.T) {
	conf := filepath.Join(t.TempDir(), "nats.conf")
	if err := os.WriteFile(conf, []byte("max_payload: 1024\nping_interval: \"50ms\"\nping_max: 2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ns := startNATSServer(t, "-c", conf)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a := serve(t, "--broadcast", "--nats", ns.url, "-v")
	b := serve(t, "--broadcast", "--nats", ns.url, "-v")
	pub, _, err := ws.Dial(ctx, a.url, ws.Text)
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	local, _, err := ws.Dial(ctx, a.url, ws.Text)
	if err != nil {
		t.Fatal(err)
	}
	defer local.Close()
	a.errOut.waitFor(t, `msg="joined the broadcast"`, 2)
	remote := start(t, "dial", b.url)
	b.errOut.waitFor(t, `msg="joined the broadcast"`, 1)
	big := strings.Repeat("x", 2000)
	buf := make([]byte, 4096)
	for round := range 10 {
		for _, m := range []string{big, fmt.Sprintf("small %d", round)} {
			if err := pub.Send(ctx, ws.Text, []byte(m)); err != nil {
				t.Fatal(err)
			}
			k, _, err := local.Recv(ctx, buf)
			if err != nil || string(buf[:k]) != m {
				t.Fatalf("a's client: %d bytes, %v", k, err)
			}
		}
		if got := remote.line(); got != fmt.Sprintf("small %d", round) {
			t.Fatalf("b's client got %q", got)
		}
		time.Sleep(50 * time.Millisecond) // let the server's PINGs go by
	}
	if n := a.errOut.count("over the NATS server's max_payload"); n != 10 {
		t.Fatalf("%d max_payload refusals logged; a's log:\n%s", n, a.errOut)
	}
	for _, s := range []*served{a, b} {
		if s.errOut.count("lost the NATS connection") != 0 {
			t.Fatalf("a node lost NATS:\n%s", s.errOut)
		}
	}
}

// TestServeNATSUsage: --nats needs --broadcast; bad URLs and subjects
// and an unreachable server are errors before listening.
func TestServeNATSUsage(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--nats", "nats://127.0.0.1:4222"}, "go with --broadcast"},
		{[]string{"--echo", "--subject", "x"}, "go with --broadcast"},
		{[]string{"--broadcast", "--nats", "http://127.0.0.1:4222"}, `scheme "http"`},
		{[]string{"--broadcast", "--nats", "tls://127.0.0.1:4222"}, "TLS to NATS is not supported"},
		{[]string{"--broadcast", "--nats", "127.0.0.1:4222", "--subject", "room.*"}, "no wildcards"},
		{[]string{"--broadcast", "--nats", "nats://" + closed}, "connection refused"},
	} {
		r := runWS(t, "", append([]string{"serve", "-addr", "127.0.0.1:0"}, tc.args...)...)
		if r.code != exitUsage || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("ws serve %s: exit %d, stderr %q; want %d and %q", strings.Join(tc.args, " "), r.code, r.stderr, exitUsage, tc.want)
		}
	}
}

// TestParseNATSURL: the forms --nats accepts.
func TestParseNATSURL(t *testing.T) {
	for in, want := range map[string]string{
		"nats://127.0.0.1:4222":      "127.0.0.1:4222 //",
		"127.0.0.1:5000":             "127.0.0.1:5000 //",
		"nats://example.org":         "example.org:4222 //",
		"nats://u:p@a:1, nats://b:2": "a:1,b:2 /u/p",
		"nats://tok@[::1]:4222":      "[::1]:4222 /tok/",
	} {
		servers, user, pass, err := parseNATSURL(in)
		if got := strings.Join(servers, ",") + " /" + user + "/" + pass; err != nil || got != want {
			t.Errorf("%q: %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "http://a:1", "tls://a:1", "nats://a:1/path", "nats://:1"} {
		if _, _, _, err := parseNATSURL(in); err == nil {
			t.Errorf("%q: no error", in)
		}
	}
	for s, ok := range map[string]bool{"room": true, "a.b.c": true, "a.*": false, ">": false, "a..b": false, "a b": false, "": false} {
		if validSubject(s) != ok {
			t.Errorf("validSubject(%q) = %v", s, !ok)
		}
	}
}
