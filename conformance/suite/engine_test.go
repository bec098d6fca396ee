package suite

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/url"
	"testing"
	"time"
)

// naivePeer is a deliberately sloppy WebSocket endpoint over conn: it
// echoes every data frame as it came (RSV bits, reserved opcodes and all),
// never validates UTF-8, answers pings and echoes close payloads verbatim.
// It proves that the suite notices what a real implementation must reject.
func naivePeer(conn net.Conn, br *bufio.Reader, client bool) {
	defer conn.Close()
	var key [4]byte
	for {
		var hdr []byte
		for {
			c, err := br.ReadByte()
			if err != nil {
				return
			}
			hdr = append(hdr, c)
			h, _, err := ParseHeader(hdr)
			if err == errShort {
				continue
			}
			if err != nil {
				return
			}
			p := make([]byte, h.Length)
			if _, err := io.ReadFull(br, p); err != nil {
				return
			}
			if h.Masked {
				maskBytes(p, h.Key, 0)
			}
			op := h.Op
			if op == OpPing {
				op = OpPong
			}
			conn.Write(AppendFrame(nil, h.Fin, h.Rsv, op, client, key, p))
			if h.Op == OpClose {
				return
			}
			break
		}
	}
}

// outcomes of the naive peer: echo cases pass, violations are caught.
var naiveWant = map[string]Outcome{
	"1.1.1":   OK,
	"1.2.6":   OK,
	"2.2":     OK,
	"5.6":     OK,
	"6.2.3":   OK,
	"3.1":     Failed, // it echoes the RSV bit
	"4.1.1":   Failed, // it echoes a reserved opcode
	"5.9":     Failed, // it echoes a continuation without a start
	"6.3.1":   Failed, // it echoes invalid UTF-8
	"2.5":     Failed, // it answers a 126-byte ping
	"7.9.1":   Failed, // it echoes close code 0
	"7.3.2":   Failed, // it echoes a 1-byte close payload
	"6.4.1":   Failed,
	"U.6.1.1": Failed,
}

func naiveCases(t *testing.T) []*Case {
	var cs []*Case
	for id := range naiveWant {
		c := Lookup(id)
		if c == nil {
			t.Fatalf("no case %s", id)
		}
		cs = append(cs, c)
	}
	return cs
}

func checkNaive(t *testing.T, rep *Report) {
	t.Helper()
	for _, res := range rep.Results {
		if res.Crashed {
			t.Errorf("%s crashed: %s", res.ID, res.Detail)
		}
		if want := naiveWant[res.ID]; res.Outcome != want {
			t.Errorf("%s: %s (%s), want %s", res.ID, res.Outcome, res.Detail, want)
		}
	}
	if len(rep.Results) != len(naiveWant) {
		t.Errorf("%d results", len(rep.Results))
	}
}

var quick = Options{Settle: 100 * time.Millisecond, Timeout: 3 * time.Second, LingerServer: 500 * time.Millisecond}

func TestEngineAgainstNaiveServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				br := bufio.NewReader(conn)
				req, err := ReadRequest(br)
				if err != nil || req.Check() != nil {
					conn.Close()
					return
				}
				conn.Write(UpgradeResponse(req.Header.Get("Sec-WebSocket-Key")))
				naivePeer(conn, br, false)
			}()
		}
	}()
	rep := RunServer(context.Background(), ln.Addr().String(), "naive", naiveCases(t), quick, nil)
	checkNaive(t, rep)
}

func TestEngineAgainstNaiveClient(t *testing.T) {
	agent := func(ctx context.Context, rawURL string) error {
		u, err := url.Parse(rawURL)
		if err != nil {
			return err
		}
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", u.Host)
		if err != nil {
			return err
		}
		key := NewKey()
		conn.Write(Request(u.RequestURI(), u.Host, key))
		br := bufio.NewReader(conn)
		resp, err := ReadResponse(br)
		if err != nil {
			conn.Close()
			return err
		}
		if err := CheckUpgradeResponse(resp, key, false); err != nil {
			conn.Close()
			return err
		}
		naivePeer(conn, br, true)
		return nil
	}
	rep, err := RunClient(context.Background(), "naive", agent, naiveCases(t), quick, nil)
	if err != nil {
		t.Fatal(err)
	}
	checkNaive(t, rep)
}

// TestEngineCrashIsReported checks that a panicking case is recorded as a
// crash, not as the peer's failure only.
func TestEngineCrashIsReported(t *testing.T) {
	c := &Case{ID: "X.1", Desc: "panics", Expect: "-", Run: func(t *T) { panic("boom") }}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			br := bufio.NewReader(conn)
			if req, err := ReadRequest(br); err == nil {
				conn.Write(UpgradeResponse(req.Header.Get("Sec-WebSocket-Key")))
			}
			go func() { io.Copy(io.Discard, conn); conn.Close() }()
		}
	}()
	rep := RunServer(context.Background(), ln.Addr().String(), "x", []*Case{c}, quick, nil)
	if len(rep.Crashes()) != 1 || rep.Results[0].Outcome != Failed {
		t.Fatalf("results %+v", rep.Results)
	}
}
