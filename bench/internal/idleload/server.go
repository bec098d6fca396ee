// Package idleload measures idle memory per connection (fresh, and after
// traffic) and an echo load over many watched connections, for ws watched
// by a ws.Poller, ws with a goroutine per connection, nbio, and gobwas/ws
// on a small epoll loop of this package. The server runs in its own process
// (ServerMain), the driver (Run) dials it from several 127.x source addresses.
package idleload

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/dillgo/ws"
	gws "github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
	"github.com/lesismal/nbio/nbhttp"
	nbws "github.com/lesismal/nbio/nbhttp/websocket"
)

// Env marks a process started as the measured server.
const Env = "WSBENCH_IDLELOAD_SERVER"

// ProfileEnv, when set to a path, makes every server process write a CPU
// profile of its run to that path plus "." and the server's name.
const ProfileEnv = "WSBENCH_IDLELOAD_CPUPROFILE"

// HeapProfileEnv, when set to a path, makes every server process write a
// heap profile at each snapshot, to that path plus "." the server's name
// "." and the snapshot's number (1: fresh, 2: after traffic).
const HeapProfileEnv = "WSBENCH_IDLELOAD_HEAPPROFILE"

// Libs are the measured servers.
var Libs = []string{"ws-poller", "ws-goroutine", "nbio", "gobwas-epoll"}

// Snap is the server's state relative to its baseline.
type Snap struct {
	Ready      int64  `json:"ready"`
	RSS        int64  `json:"rss"`
	Heap       int64  `json:"heap"`
	Stack      int64  `json:"stack"`
	Goroutines int    `json:"goroutines"`
	CPUNS      int64  `json:"cpu_ns"` // absolute user+system CPU of the process
	NoFile     uint64 `json:"nofile"`
}

// RaiseNoFile sets RLIMIT_NOFILE's soft limit to its hard limit and returns it.
func RaiseNoFile() uint64 {
	var r syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r) != nil {
		return 0
	}
	r.Cur = r.Max
	syscall.Setrlimit(syscall.RLIMIT_NOFILE, &r)
	syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r)
	return r.Cur
}

func rss() int64 {
	b, _ := os.ReadFile("/proc/self/status")
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			if f := strings.Fields(rest); len(f) > 0 {
				kb, _ := strconv.ParseInt(f[0], 10, 64)
				return kb << 10
			}
		}
	}
	return 0
}

func snapshot() Snap {
	runtime.GC()
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return Snap{RSS: rss(), Heap: int64(ms.HeapInuse), Stack: int64(ms.StackInuse),
		Goroutines: runtime.NumGoroutine(), CPUNS: ru.Utime.Nano() + ru.Stime.Nano()}
}

// bufs are the application's receive buffers, taken only while a message
// is handled (neither style holds one while idle).
var bufs = sync.Pool{New: func() any { b := make([]byte, 64<<10+1); return &b }}

var ready atomic.Int64

// ServerMain runs the server of lib ("ws-poller", ...) with TLS if
// useTLS, prints "ADDR host:port", then answers "snap N" lines on stdin
// (wait until N connections are set up, print a Snap as JSON) until
// stdin closes.
func ServerMain(lib string, useTLS bool) int {
	if os.Getenv(HeapProfileEnv) != "" {
		runtime.MemProfileRate = 1 // every allocation, for exact per-connection figures
	}
	nofile := RaiseNoFile()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println("ERR", err)
		return 1
	}
	var tc *tls.Config
	if useTLS {
		tc = selfSigned()
	}
	var serve func()
	switch lib {
	case "ws-poller", "ws-goroutine":
		var p *ws.Poller
		if lib == "ws-poller" {
			if p, err = ws.NewPoller(0); err != nil {
				fmt.Println("ERR", err)
				return 1
			}
		}
		serve = func() { serveWS(ln, p, tc) }
	case "nbio":
		if tc != nil {
			fmt.Println("ERR nbio: TLS not measured")
			return 1
		}
		e, err := startNbio(ln)
		if err != nil {
			fmt.Println("ERR", err)
			return 1
		}
		defer e.Stop()
	case "gobwas-epoll":
		if tc != nil {
			fmt.Println("ERR gobwas-epoll: TLS not measured")
			return 1
		}
		ep, err := newEpoll(runtime.GOMAXPROCS(0))
		if err != nil {
			fmt.Println("ERR", err)
			return 1
		}
		serve = func() { serveGobwas(ln, ep) }
	default:
		fmt.Println("ERR unknown lib", lib)
		return 1
	}
	base := snapshot()
	if path := os.Getenv(ProfileEnv); path != "" {
		// A CPU profile of the whole server run (set-up and load), for
		// finding where a server's time per message goes.
		if f, err := os.Create(path + "." + lib); err == nil {
			defer f.Close() // after StopCPUProfile has written the profile
			if pprof.StartCPUProfile(f) == nil {
				defer pprof.StopCPUProfile()
			}
		}
	}
	if serve != nil {
		go serve()
	}
	fmt.Println("ADDR", ln.Addr().String())
	sc := bufio.NewScanner(os.Stdin)
	snaps := 0
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 2 || f[0] != "snap" {
			continue
		}
		want, _ := strconv.ParseInt(f[1], 10, 64)
		deadline := time.Now().Add(time.Minute)
		for ready.Load() < want && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		time.Sleep(200 * time.Millisecond) // let every reader park
		s := snapshot()
		s.Ready = ready.Load()
		s.RSS -= base.RSS
		s.Heap -= base.Heap
		s.Stack -= base.Stack
		s.Goroutines -= base.Goroutines
		s.NoFile = nofile
		if path := os.Getenv(HeapProfileEnv); path != "" {
			snaps++
			if f, err := os.Create(fmt.Sprintf("%s.%s.%d", path, lib, snaps)); err == nil {
				pprof.Lookup("heap").WriteTo(f, 0)
				f.Close()
			}
		}
		b, _ := json.Marshal(s)
		fmt.Println("SNAP", string(b))
	}
	return 0
}

func selfSigned() *tls.Config {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	tpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(24 * time.Hour), IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &k.PublicKey, k)
	if err != nil {
		panic(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: k}}}
}

// echoWS waits for a message (in Reader, without a buffer), receives it
// into a pooled buffer and echoes it. The wait has no deadline for a
// goroutine per connection (idle wait); in onReadable the message is there.
func echoWS(c *ws.Conn, wait context.Context) error {
	_, r, err := c.Reader(wait)
	if err != nil {
		return err
	}
	bp := bufs.Get().(*[]byte)
	defer bufs.Put(bp)
	n := 0
	for {
		k, err := r.Read((*bp)[n:])
		n += k
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if n == len(*bp) {
			return errors.New("idleload: message too big")
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return c.Send(ctx, ws.Binary, (*bp)[:n])
}

func serveWS(ln net.Listener, p *ws.Poller, tc *tls.Config) {
	for {
		u, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			var nc net.Conn = u
			if tc != nil {
				t := tls.Server(u, tc)
				t.SetDeadline(time.Now().Add(30 * time.Second))
				if err := t.Handshake(); err != nil {
					u.Close()
					return
				}
				t.SetDeadline(time.Time{})
				nc = t
			}
			// Background: Config.HandshakeTimeout (10 s) bounds the
			// handshake. A ctx with its own timer would stay reachable
			// from the runtime's timer heap until that timer's time
			// (a stopped timer is removed lazily), about 330 bytes per
			// connection counted as idle memory.
			c, err := ws.AttachServer(context.Background(), nc, ws.Binary)
			if err != nil {
				nc.Close()
				return
			}
			if p != nil {
				if err := p.Watch(c, func(c *ws.Conn) {
					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					defer cancel()
					if echoWS(c, ctx) != nil {
						c.Close()
					}
				}); err != nil {
					c.Close()
					return
				}
				ready.Add(1)
				return
			}
			// The receive loop gets a goroutine of its own: the
			// handshake's deeper calls grew this one's stack, which a
			// parked goroutine keeps, while a fresh one parked in
			// Reader stays within its initial 2 KiB.
			ready.Add(1)
			go func() {
				for echoWS(c, context.Background()) == nil {
				}
				c.Close()
			}()
		}()
	}
}

func startNbio(ln net.Listener) (*nbhttp.Engine, error) {
	up := nbws.NewUpgrader()
	up.OnMessage(func(c *nbws.Conn, mt nbws.MessageType, data []byte) { c.WriteMessage(mt, data) })
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if _, err := up.Upgrade(w, r, nil); err == nil {
			ready.Add(1)
		}
	})
	used := false
	e := nbhttp.NewEngine(nbhttp.Config{Network: "tcp", Addrs: []string{ln.Addr().String()}, Handler: mux,
		Listen: func(string, string) (net.Listener, error) {
			if used {
				return nil, fmt.Errorf("idleload: one listener only")
			}
			used = true
			return ln, nil
		}})
	return e, e.Start()
}

func serveGobwas(ln net.Listener, ep *epoll) {
	for {
		u, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			u.SetDeadline(time.Now().Add(30 * time.Second))
			if _, err := gws.Upgrade(u); err != nil {
				u.Close()
				return
			}
			u.SetDeadline(time.Time{})
			err := ep.add(u, func(c net.Conn) bool {
				c.SetReadDeadline(time.Now().Add(10 * time.Second))
				msg, op, err := wsutil.ReadClientData(c)
				if err != nil {
					return false
				}
				c.SetReadDeadline(time.Time{})
				return wsutil.WriteServerMessage(c, op, msg) == nil
			})
			if err != nil {
				u.Close()
				return
			}
			ready.Add(1)
		}()
	}
}

// Main runs the server process from its command line (see Run) and
// returns the exit code.
func Main(args []string) int {
	lib, useTLS := "", false
	for i := 0; i < len(args); i++ {
		switch {
		case args[i] == "-idleload-server" && i+1 < len(args):
			lib = args[i+1]
			i++
		case args[i] == "-idleload-tls=true":
			useTLS = true
		}
	}
	return ServerMain(lib, useTLS)
}
