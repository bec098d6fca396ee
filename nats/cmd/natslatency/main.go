// Command natslatency measures the fan-out latency of ws.Hub bridged to
// NATS with wsnats: one process runs an embedded nats-server and several
// hub nodes (ws.Hub + wsnats.Bridge, each with its own HTTP listener on
// 127.0.0.1 and its own NATS connection), real WebSocket clients dial
// every node over loopback, and a publisher on node A publishes
// timestamped messages at a fixed rate through A's bridge. Each client
// takes the one-way latency of every message (the process's monotonic
// clock, shared by publisher and receivers) and checks its sequence.
//
// The clients of node A are the same-node baseline (hub only, no NATS);
// those of the other nodes are the cross-node figure (hub A → NATS →
// bridge B → hub B → client).
//
//	go run ./cmd/natslatency -rate 1000 -duration 10s -size 128
//
// It is a program, not a test: nothing runs it by default.
package main

import (
	"context"
	"encoding/binary"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/dillgo/ws"
	wsnats "github.com/dillgo/ws/nats"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

var (
	rate     = flag.Int("rate", 1000, "messages per second")
	duration = flag.Duration("duration", 10*time.Second, "how long to publish")
	warmup   = flag.Duration("warmup", time.Second, "publish this long first, not measured")
	size     = flag.Int("size", 128, "message size in bytes (at least 16)")
	nodes    = flag.Int("nodes", 3, "hub nodes (A publishes; the others receive through NATS)")
	clients  = flag.Int("clients", 10, "receiving clients per node")
	natsURL  = flag.String("nats", "", "an outside nats-server's URL (default: an embedded one)")
	viaWS    = flag.Bool("via-client", false, "publish from a WebSocket client of node A (its server republishes), not from node A's server")
)

// t0 is the process's clock origin: timestamps are time.Since(t0), monotonic.
var t0 = time.Now()

func now() int64 { return int64(time.Since(t0)) }

type node struct {
	name   string
	hub    *ws.Hub
	nc     *nats.Conn
	bridge *wsnats.Bridge
	url    string
	srv    *http.Server
}

func newNode(name, url string) (*node, error) {
	hub, err := ws.NewHub(&ws.HubConfig{MaxLag: time.Minute, MaxQueueBytes: 64 << 20})
	if err != nil {
		return nil, err
	}
	nc, err := nats.Connect(url, nats.NoEcho(), nats.Name(name))
	if err != nil {
		return nil, err
	}
	b, err := wsnats.New(nc, hub, "latency")
	if err != nil {
		return nil, err
	}
	n := &node{name: name, hub: hub, nc: nc, bridge: b}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	n.url = "ws://" + ln.Addr().String() + "/"
	n.srv = &http.Server{Handler: http.HandlerFunc(n.handle)}
	go n.srv.Serve(ln)
	return n, nil
}

// handle adds the connection to the hub and republishes what the client
// sends (only the -via-client publisher sends).
func (n *node) handle(w http.ResponseWriter, r *http.Request) {
	c, err := ws.Upgrade(w, r, ws.Binary)
	if err != nil {
		return
	}
	defer c.Close()
	if n.hub.Add(c) != nil {
		return
	}
	defer n.hub.Remove(c)
	ctx, buf := context.Background(), make([]byte, 64<<10)
	for {
		k, f, err := c.Recv(ctx, buf)
		if err != nil {
			return
		}
		if err := n.bridge.Publish(ctx, f, buf[:k], c); err != nil {
			fmt.Fprintln(os.Stderr, "publish:", err)
		}
	}
}

// receiver is one client's record.
type receiver struct {
	node                  string
	lat                   []int64 // ns, measured messages only
	seen                  []bool
	maxSeq                int64
	got, dup, reord, late int
}

func (r *receiver) run(ctx context.Context, c *ws.Conn, total, skip int, done <-chan struct{}) {
	r.seen = make([]bool, total)
	r.maxSeq = -1
	buf := make([]byte, 64<<10)
	for r.got < total {
		rctx := ctx
		var cancel context.CancelFunc = func() {}
		select {
		case <-done: // the publisher finished: wait a little for the rest
			rctx, cancel = context.WithTimeout(ctx, 2*time.Second)
		default:
		}
		k, _, err := c.Recv(rctx, buf)
		t := now()
		cancel()
		if err != nil {
			return
		}
		if k < 16 {
			continue
		}
		seq := int64(binary.LittleEndian.Uint64(buf))
		sent := int64(binary.LittleEndian.Uint64(buf[8:]))
		if seq < 0 || seq >= int64(total) {
			continue
		}
		if r.seen[seq] {
			r.dup++
			continue
		}
		r.seen[seq] = true
		r.got++
		if seq < r.maxSeq {
			r.reord++
		} else {
			r.maxSeq = seq
		}
		if int(seq) >= skip {
			r.lat = append(r.lat, t-sent)
		}
	}
}

func pct(s []int64, p float64) time.Duration {
	if len(s) == 0 {
		return 0
	}
	i := int(p / 100 * float64(len(s)-1))
	return time.Duration(s[i])
}

func report(label string, rs []*receiver, total int) {
	var lat []int64
	var got, dup, reord int
	for _, r := range rs {
		lat = append(lat, r.lat...)
		got += r.got
		dup += r.dup
		reord += r.reord
	}
	slices.Sort(lat)
	want := total * len(rs)
	fmt.Printf("%-22s clients %3d  delivered %8d/%-8d lost %d reordered %d duplicated %d\n",
		label, len(rs), got, want, want-got, reord, dup)
	if len(lat) > 0 {
		fmt.Printf("%-22s p50 %8v  p90 %8v  p99 %8v  p99.9 %8v  max %8v  (%d samples)\n", "",
			pct(lat, 50).Round(time.Microsecond), pct(lat, 90).Round(time.Microsecond),
			pct(lat, 99).Round(time.Microsecond), pct(lat, 99.9).Round(time.Microsecond),
			time.Duration(lat[len(lat)-1]).Round(time.Microsecond), len(lat))
	}
}

func main() {
	flag.Parse()
	if *size < 16 || *rate <= 0 || *nodes < 1 || *clients < 1 {
		fmt.Fprintln(os.Stderr, "natslatency: bad flags")
		os.Exit(2)
	}
	url := *natsURL
	if url == "" {
		ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true})
		if err != nil {
			fatal(err)
		}
		go ns.Start()
		if !ns.ReadyForConnections(10 * time.Second) {
			fatal(fmt.Errorf("nats-server not ready"))
		}
		defer ns.Shutdown()
		url = ns.ClientURL()
	}
	var ns []*node
	for i := 0; i < *nodes; i++ {
		n, err := newNode(string(rune('A'+i)), url)
		if err != nil {
			fatal(err)
		}
		ns = append(ns, n)
	}
	skip := int(int64(*rate) * int64(*warmup) / int64(time.Second))
	total := skip + int(int64(*rate)*int64(*duration)/int64(time.Second))

	ctx := context.Background()
	done := make(chan struct{})
	var wg sync.WaitGroup
	byNode := map[string][]*receiver{}
	for _, n := range ns {
		for i := 0; i < *clients; i++ {
			c, _, err := ws.Dial(ctx, n.url, ws.Binary)
			if err != nil {
				fatal(err)
			}
			r := &receiver{node: n.name}
			byNode[n.name] = append(byNode[n.name], r)
			wg.Add(1)
			go func() { defer wg.Done(); r.run(ctx, c, total, skip, done) }()
		}
	}
	var pubConn *ws.Conn
	if *viaWS {
		c, _, err := ws.Dial(ctx, ns[0].url, ws.Binary)
		if err != nil {
			fatal(err)
		}
		pubConn = c
		go func() { // drain what the hub sends it (nothing: it is skipped)
			buf := make([]byte, 64<<10)
			for {
				if _, _, err := c.Recv(ctx, buf); err != nil {
					return
				}
			}
		}()
	}
	for i, n := range ns { // every handler has joined its hub
		want := *clients
		if *viaWS && i == 0 {
			want++
		}
		for n.hub.Stats().Conns < want {
			time.Sleep(time.Millisecond)
		}
	}
	fmt.Printf("natslatency: %s, GOMAXPROCS %d, nats %s, %d nodes × %d clients, %d B at %d msgs/s for %v (+%v warm-up), publisher: %s\n",
		runtime.Version(), runtime.GOMAXPROCS(0), url, len(ns), *clients, *size, *rate, *duration, *warmup,
		map[bool]string{false: "node A's server (Bridge.Publish)", true: "a WebSocket client of node A"}[*viaWS])

	// The publisher: message i is due at start + i/rate; a late one goes
	// at once (and is counted), stamped with its actual send time.
	msg := make([]byte, *size)
	for i := 16; i < len(msg); i++ {
		msg[i] = byte('a' + i%26)
	}
	period := time.Second / time.Duration(*rate)
	start := time.Now()
	var lateSends int
	var maxBehind time.Duration
	for i := 0; i < total; i++ {
		due := start.Add(time.Duration(i) * period)
		if d := time.Until(due); d > 0 {
			time.Sleep(d)
		} else if -d > period {
			lateSends++
			maxBehind = max(maxBehind, -d)
		}
		binary.LittleEndian.PutUint64(msg, uint64(i))
		binary.LittleEndian.PutUint64(msg[8:], uint64(now()))
		var err error
		if pubConn != nil {
			err = pubConn.Send(ctx, ws.Binary, msg)
		} else {
			err = ns[0].bridge.Publish(ctx, ws.Binary, msg, nil)
		}
		if err != nil {
			fatal(err)
		}
	}
	elapsed := time.Since(start)
	close(done)
	wg.Wait()
	fmt.Printf("published %d messages in %v (%.0f msgs/s); sends more than one period late: %d (at most %v behind)\n",
		total, elapsed.Round(time.Millisecond), float64(total)/elapsed.Seconds(), lateSends, maxBehind.Round(time.Microsecond))
	fmt.Printf("measured: the %d messages after the warm-up's %d; lost/reordered/duplicated count all %d\n", total-skip, skip, total)
	report("A (same node)", byNode["A"], total)
	var cross []*receiver
	for _, n := range ns[1:] {
		report(n.name+" (via NATS)", byNode[n.name], total)
		cross = append(cross, byNode[n.name]...)
	}
	if len(ns) > 2 {
		report("B+C… (via NATS)", cross, total)
	}
	for _, n := range ns {
		st, hs := n.bridge.Stats(), n.hub.Stats()
		fmt.Printf("node %s: bridge %+v  hub %+v\n", n.name, st, hs)
	}
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "natslatency:", err)
	os.Exit(1)
}
