package ws

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

// newRawMem is newRaw with the ws Conn in caller Storage (mem) or pooled.
func newRawMem(t *testing.T, wsClient, mem bool) (*Conn, *rawPeer) {
	t.Helper()
	if !mem {
		return newRaw(t, wsClient, 0)
	}
	a, b := tcpPair(t)
	var c *Conn
	var err error
	if wsClient {
		c, err = AttachClientMem(context.Background(), a, NoHTTP, "", "", new(Storage))
	} else {
		c, err = AttachServerMem(context.Background(), a, NoHTTP, new(Storage))
	}
	if err != nil {
		t.Fatal(err)
	}
	return c, &rawPeer{t: t, c: b, r: bufio.NewReader(b), client: !wsClient}
}

// TestRecvFastMatchesGeneral sends the same frames to a Conn in Storage
// reading with Recv (the fast path when a whole frame is buffered) and to
// a pooled one reading with RecvV over two buffers (always the general
// path), on both sides, and checks that both give what was sent, or the
// same error; after an ErrMsgSize both still receive the next message.
func TestRecvFastMatchesGeneral(t *testing.T) {
	type result struct {
		data  []byte
		flags Flags
		err   error
	}
	long := pattern(4000)
	cases := []struct {
		name   string
		frames func(p *rawPeer) [][]byte
		room   int
		want   []byte // nil: an error is expected
		flags  Flags
		kind   error
	}{
		{"empty", func(p *rawPeer) [][]byte { return [][]byte{p.frame(true, opBinary, nil)} }, 10, []byte{}, Binary, nil},
		{"125", func(p *rawPeer) [][]byte { return [][]byte{p.frame(true, opBinary, long[:125])} }, 200, long[:125], Binary, nil},
		{"126", func(p *rawPeer) [][]byte { return [][]byte{p.frame(true, opBinary, long[:126])} }, 200, long[:126], Binary, nil},
		{"4000", func(p *rawPeer) [][]byte { return [][]byte{p.frame(true, opBinary, long)} }, 5000, long, Binary, nil},
		{"exact fit", func(p *rawPeer) [][]byte { return [][]byte{p.frame(true, opBinary, long[:77])} }, 77, long[:77], Binary, nil},
		{"text", func(p *rawPeer) [][]byte { return [][]byte{p.frame(true, opText, []byte("héllo"))} }, 10, []byte("héllo"), Text, nil},
		{"fragments", func(p *rawPeer) [][]byte {
			return [][]byte{p.frame(false, opText, []byte("ab")), p.frame(true, opCont, []byte("cd"))}
		}, 10, []byte("abcd"), Text, nil},
		{"ping first", func(p *rawPeer) [][]byte {
			return [][]byte{p.frame(true, opPing, []byte("x")), p.frame(true, opBinary, []byte("data"))}
		}, 10, []byte("data"), Binary, nil},
		{"bad utf8", func(p *rawPeer) [][]byte { return [][]byte{p.frame(true, opText, []byte{'a', 0xff})} }, 10, nil, 0, ErrProto},
		{"reserved op", func(p *rawPeer) [][]byte { return [][]byte{p.frame(true, 0x3, []byte("x"))} }, 10, nil, 0, ErrProto},
		{"rsv1 without deflate", func(p *rawPeer) [][]byte { return [][]byte{frame(p.client, true, bitRsv1, opBinary, []byte("x"))} }, 10, nil, 0, ErrProto},
		{"wrong masking", func(p *rawPeer) [][]byte { return [][]byte{frame(!p.client, true, 0, opBinary, []byte("x"))} }, 10, nil, 0, ErrProto},
		{"non-minimal length", func(p *rawPeer) [][]byte {
			f := p.frame(true, opBinary, []byte("hello"))
			b := append([]byte{f[0], f[1]&bitMask | 126, 0, 5}, f[2:]...)
			return [][]byte{b}
		}, 10, nil, 0, ErrProto},
		{"too big", func(p *rawPeer) [][]byte { return [][]byte{p.frame(true, opBinary, long[:20])} }, 10, nil, 0, ErrMsgSize},
		{"close", func(p *rawPeer) [][]byte { return [][]byte{p.frame(true, opClose, []byte{0x03, 0xe8})} }, 10, nil, 0, ErrPipe},
	}
	for _, wsClient := range []bool{false, true} {
		for _, tc := range cases {
			t.Run(fmt.Sprintf("client=%v/%s", wsClient, tc.name), func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				var got [2]result
				for i := range got {
					c, p := newRawMem(t, wsClient, i == 0)
					defer c.Close()
					p.write(tc.frames(p)...)
					p.send(true, opBinary, []byte("next"))
					buf := make([]byte, tc.room)
					var n int
					var f Flags
					var err error
					if i == 0 {
						n, f, err = c.Recv(context.Background(), buf)
					} else {
						k := tc.room / 2
						n, f, err = c.RecvV(ctx, buf[:k], buf[k:])
					}
					got[i] = result{buf[:n], f, err}
					if err == nil || errors.Is(err, ErrMsgSize) {
						next := make([]byte, 10)
						n, _, err := c.Recv(ctx, next)
						if err != nil || string(next[:n]) != "next" {
							t.Errorf("path %d: next message: %q, %v", i, next[:n], err)
						}
					}
				}
				for i, r := range got {
					if tc.want != nil {
						if r.err != nil || !bytes.Equal(r.data, tc.want) || r.flags != tc.flags {
							t.Errorf("path %d: got %d bytes, %v, %v; want %d bytes, %v", i, len(r.data), r.flags, r.err, len(tc.want), tc.flags)
						}
					} else if !errors.Is(r.err, tc.kind) {
						t.Errorf("path %d: error %v, want %v", i, r.err, tc.kind)
					}
				}
			})
		}
	}
}
