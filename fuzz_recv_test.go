package ws

import (
	"context"
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

// FuzzRecv feeds arbitrary bytes to a server and a client connection: a
// receive must end with a message or an error, never a panic, a hang or an
// allocation sized by the input's declared lengths.
func FuzzRecv(f *testing.F) {
	mk := func(masked bool, fin bool, op byte, p string) []byte { return frame(masked, fin, 0, op, []byte(p)) }
	f.Add(mk(true, true, opText, "hello"), true)
	f.Add(append(mk(true, false, opText, "frag"), mk(true, true, opCont, "ment")...), true)
	f.Add(append(mk(true, true, opPing, "p"), mk(true, true, opClose, "\x03\xe8bye")...), true)
	f.Add(mk(false, true, opBinary, "server"), false)
	f.Add([]byte{0x82, 0x7f, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, false)
	f.Add(mk(true, true, opText, "\xce\xba\xf4\x90"), true)
	f.Fuzz(func(t *testing.T, in []byte, server bool) {
		a, b := net.Pipe()
		defer a.Close()
		go io.Copy(io.Discard, b) // pongs and closes
		go func() {
			b.Write(in)
			b.Close()
		}()
		var c *Conn
		if server {
			c, _ = AttachServer(context.Background(), a, NoHTTP)
		} else {
			c, _ = AttachClient(context.Background(), a, NoHTTP, "", "")
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		buf := make([]byte, 256)
		for i := 0; i < 64; i++ {
			_, _, err := c.Recv(ctx, buf)
			if errors.Is(err, ErrMsgSize) || errors.Is(err, ErrProto) && !errors.Is(err, ErrConnReset) && c.in.err == nil {
				continue
			}
			if err != nil {
				if errors.Is(err, ErrTimedOut) {
					t.Fatal("receive hung on finite input")
				}
				return
			}
		}
	})
}
