// Command fanout measures one message fanned out to many connections:
// ws's Hub (and a SendPrepared loop) against gorilla's PreparedMessage
// loop and gws's Broadcaster, in the same run. The server of each library
// runs in a child process so that its CPU time (getrusage) is its own;
// the clients, in this process, read and count bytes. Write calls are
// counted at a net.Conn wrapper around every accepted connection.
//
//	go run ./cmd/fanout -conns 1000,10000 -deliveries 1000000 -size 128
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gorilla/websocket"
	"github.com/lxzan/gws"

	"github.com/dillgo/ws"
)

var libs = []string{"ws-hub", "ws-prepared-loop", "gorilla-prepared-loop", "gws-broadcaster"}

type result struct {
	Lib         string  `json:"lib"`
	Conns       int     `json:"conns"`
	Deliveries  int64   `json:"deliveries"`
	Seconds     float64 `json:"seconds"`
	CPUSeconds  float64 `json:"cpu_seconds"`
	Writes      int64   `json:"writes"`
	PerSec      float64 `json:"deliveries_per_s"`
	PerCPUSec   float64 `json:"deliveries_per_cpu_s"`
	NsCPU       float64 `json:"cpu_ns_per_delivery"`
	WritesPerMs float64 `json:"writes_per_delivery"`
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "server" {
		os.Exit(server(os.Args[2:]))
	}
	conns := flag.String("conns", "1000,10000", "connection counts")
	total := flag.Int("deliveries", 1000000, "deliveries per run (messages = deliveries / conns)")
	size := flag.Int("size", 128, "payload bytes")
	only := flag.String("libs", strings.Join(libs, ","), "libraries")
	asJSON := flag.Bool("json", false, "JSON lines instead of a table")
	flag.Parse()
	var rs []result
	for _, cs := range strings.Split(*conns, ",") {
		n, _ := strconv.Atoi(cs)
		for _, lib := range strings.Split(*only, ",") {
			r, err := run(lib, n, *total/n, *size)
			if err != nil {
				fmt.Fprintf(os.Stderr, "fanout: %s × %d: %v\n", lib, n, err)
				os.Exit(1)
			}
			rs = append(rs, r)
			if *asJSON {
				json.NewEncoder(os.Stdout).Encode(r)
			}
		}
	}
	if !*asJSON {
		fmt.Printf("| library | conns | deliveries/s | deliveries per CPU s | CPU ns per delivery | writes per delivery |\n|---|---|---|---|---|---|\n")
		for _, r := range rs {
			fmt.Printf("| %s | %d | %.0f | %.0f | %.0f | %.4f |\n", r.Lib, r.Conns, r.PerSec, r.PerCPUSec, r.NsCPU, r.WritesPerMs)
		}
	}
}

// run starts the server child, connects n clients, lets it publish msgs
// messages, and waits for every client to receive them.
func run(lib string, n, msgs, size int) (result, error) {
	cmd := exec.Command(os.Args[0], "server", lib, strconv.Itoa(n), strconv.Itoa(msgs), strconv.Itoa(size))
	cmd.Stderr = os.Stderr
	in, _ := cmd.StdinPipe()
	outp, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		return result{}, err
	}
	defer cmd.Wait()
	defer in.Close()
	out := bufio.NewReader(outp)
	addr, err := out.ReadString('\n')
	if err != nil {
		return result{}, fmt.Errorf("server: %v", err)
	}
	frame := int64(size + hdrLen(size))
	want := int64(msgs) * frame
	var wg sync.WaitGroup
	errs := make(chan error, n)
	var conns []net.Conn
	for i := 0; i < n; i++ {
		c, err := dial(strings.TrimSpace(addr))
		if err != nil {
			return result{}, err
		}
		conns = append(conns, c)
	}
	if _, err := out.ReadString('\n'); err != nil { // "accepted"
		return result{}, fmt.Errorf("server: %v", err)
	}
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.Close()
			c.SetReadDeadline(time.Now().Add(5 * time.Minute))
			got, err := io.CopyN(io.Discard, c, want)
			if err != nil {
				errs <- fmt.Errorf("client got %d of %d bytes: %v", got, want, err)
			}
		}()
	}
	fmt.Fprintln(in, "go")
	line, err := out.ReadString('\n')
	if err != nil {
		return result{}, fmt.Errorf("server: %v", err)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		return result{}, err
	}
	var r result
	if err := json.Unmarshal([]byte(line), &r); err != nil {
		return r, fmt.Errorf("server said %q", line)
	}
	r.PerSec = float64(r.Deliveries) / r.Seconds
	r.PerCPUSec = float64(r.Deliveries) / r.CPUSeconds
	r.NsCPU = r.CPUSeconds * 1e9 / float64(r.Deliveries)
	r.WritesPerMs = float64(r.Writes) / float64(r.Deliveries)
	return r, nil
}

func hdrLen(n int) int {
	switch {
	case n <= 125:
		return 2
	case n <= 0xffff:
		return 4
	}
	return 10
}

// dial connects and does the client handshake by hand: the clients only
// count bytes.
func dial(addr string) (net.Conn, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	key, _ := ws.RequestKey()
	fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n", addr, key)
	var b []byte
	one := make([]byte, 1)
	for !strings.HasSuffix(string(b), "\r\n\r\n") {
		if _, err := c.Read(one); err != nil {
			c.Close()
			return nil, err
		}
		b = append(b, one[0])
	}
	if !strings.HasPrefix(string(b), "HTTP/1.1 101") {
		c.Close()
		return nil, fmt.Errorf("handshake: %q", b)
	}
	return c, nil
}

// counted counts the write calls and bytes of every accepted connection.
var writes, written atomic.Int64

type countConn struct{ net.Conn }

func (c countConn) Write(p []byte) (int, error) {
	writes.Add(1)
	n, err := c.Conn.Write(p)
	written.Add(int64(n))
	return n, err
}

type countListener struct{ net.Listener }

func (l countListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return countConn{c}, nil
}

// server is the child: it accepts n connections, waits for "go", fans
// msgs messages out with lib and prints its result once every byte was
// written.
func server(args []string) int {
	lib := args[0]
	n, _ := strconv.Atoi(args[1])
	msgs, _ := strconv.Atoi(args[2])
	size, _ := strconv.Atoi(args[3])
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	f := newFanout(lib)
	accepted := make(chan struct{}, n)
	go http.Serve(countListener{ln}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if f.add(w, r) {
			accepted <- struct{}{}
		}
	}))
	fmt.Println(ln.Addr().String())
	for i := 0; i < n; i++ {
		<-accepted
	}
	fmt.Println("accepted")
	stdin := bufio.NewReader(os.Stdin)
	stdin.ReadString('\n')
	payload := make([]byte, size)
	for i := range payload {
		payload[i] = 'a' + byte(i%26)
	}
	want := written.Load() + int64(n)*int64(msgs)*int64(size+hdrLen(size))
	w0, cpu0, t0 := writes.Load(), cpu(), time.Now()
	for i := 0; i < msgs; i++ {
		f.publish(payload)
	}
	for written.Load() < want {
		time.Sleep(50 * time.Microsecond)
	}
	el, c := time.Since(t0), cpu()-cpu0
	json.NewEncoder(os.Stdout).Encode(result{Lib: lib, Conns: n, Deliveries: int64(n) * int64(msgs),
		Seconds: el.Seconds(), CPUSeconds: c.Seconds(), Writes: writes.Load() - w0})
	io.Copy(io.Discard, stdin) // exit once the clients have everything
	return 0
}

func cpu() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// fanout is one library's way to send one message to every connection.
type fanout struct {
	lib     string
	mu      sync.Mutex
	hub     *ws.Hub
	wsConns []*ws.Conn
	gor     []*websocket.Conn
	gwsC    []*gws.Conn
	gwsUp   *gws.Upgrader
}

func newFanout(lib string) *fanout {
	f := &fanout{lib: lib}
	switch lib {
	case "ws-hub":
		// SlowBlock: the publisher waits for the writers instead of
		// queueing the whole run, as the loops below do.
		f.hub, _ = ws.NewHub(&ws.HubConfig{Policy: ws.SlowBlock, MaxQueueBytes: 64 << 10})
	case "gws-broadcaster":
		f.gwsUp = gws.NewUpgrader(&gws.BuiltinEventHandler{}, nil)
	}
	return f
}

func (f *fanout) add(w http.ResponseWriter, r *http.Request) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch f.lib {
	case "ws-hub", "ws-prepared-loop":
		c, err := ws.Upgrade(w, r, ws.Text)
		if err != nil {
			return false
		}
		if f.hub != nil {
			f.hub.Add(c)
		}
		f.wsConns = append(f.wsConns, c)
	case "gorilla-prepared-loop":
		c, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
		if err != nil {
			return false
		}
		f.gor = append(f.gor, c)
	case "gws-broadcaster":
		c, err := f.gwsUp.Upgrade(w, r)
		if err != nil {
			return false
		}
		go c.ReadLoop()
		f.gwsC = append(f.gwsC, c)
	}
	return true
}

func (f *fanout) publish(p []byte) {
	ctx := context.Background()
	switch f.lib {
	case "ws-hub":
		m, _ := ws.NewPreparedMessage(ws.Text, p)
		f.hub.Publish(ctx, m, nil)
	case "ws-prepared-loop":
		m, _ := ws.NewPreparedMessage(ws.Text, p)
		for _, c := range f.wsConns {
			c.SendPrepared(ctx, m)
		}
	case "gorilla-prepared-loop":
		pm, _ := websocket.NewPreparedMessage(websocket.TextMessage, p)
		for _, c := range f.gor {
			c.WritePreparedMessage(pm)
		}
	case "gws-broadcaster":
		b := gws.NewBroadcaster(gws.OpcodeText, p)
		for _, c := range f.gwsC {
			b.Broadcast(c)
		}
		b.Close()
	}
}
