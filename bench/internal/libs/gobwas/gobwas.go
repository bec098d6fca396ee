// Package gobwas adapts github.com/gobwas/ws twice: "gobwas" uses wsutil
// (a reused wsutil.Reader over a 4 KiB bufio.Reader and a reused
// wsutil.Writer), "gobwas-frame" the bare frame API (ws.ReadHeaderBuffer,
// ws.WriteHeader, ws.Cipher) over bufio.
package gobwas

import (
	"bufio"
	"io"
	"net"
	"net/url"

	"github.com/gobwas/httphead"
	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsflate"
	"github.com/gobwas/ws/wsutil"

	"github.com/dillgo/ws/bench/internal/libs"
)

func init() {
	libs.Register(libs.Lib{Name: "gobwas", Deflate: true, Client: client(newUtil), Server: server(newUtil)})
	libs.Register(libs.Lib{Name: "gobwas-frame", Client: client(newFrame), Server: server(newFrame)})
}

type ctor func(c net.Conn, br *bufio.Reader, s ws.State, deflate bool) libs.Conn

var target = &url.URL{Scheme: "ws", Host: "127.0.0.1", Path: "/"}

func client(mk ctor) func(net.Conn, libs.Opts) (libs.Conn, error) {
	return func(c net.Conn, o libs.Opts) (libs.Conn, error) {
		d := ws.Dialer{}
		if o.Deflate {
			d.Extensions = []httphead.Option{deflateParams.Option()}
		}
		br, hs, err := d.Upgrade(c, target)
		if err != nil {
			return nil, err
		}
		if br == nil {
			br = bufio.NewReaderSize(c, 4096)
		}
		return mk(c, br, ws.StateClientSide, o.Deflate && len(hs.Extensions) > 0), nil
	}
}

func server(mk ctor) func(net.Conn, libs.Opts) (libs.Conn, error) {
	return func(c net.Conn, o libs.Opts) (libs.Conn, error) {
		u := ws.Upgrader{}
		var e *wsflate.Extension
		if o.Deflate {
			e = &wsflate.Extension{Parameters: deflateParams}
			u.Negotiate = e.Negotiate
		}
		if _, err := u.Upgrade(c); err != nil {
			return nil, err
		}
		on := false
		if e != nil {
			_, on = e.Accepted()
		}
		return mk(c, bufio.NewReaderSize(c, 4096), ws.StateServerSide, on), nil
	}
}

// util is the wsutil flavour.
type util struct {
	c  net.Conn
	r  wsutil.Reader
	w  *wsutil.Writer
	st ws.State
	fl *flater // nil without permessage-deflate
}

func newUtil(c net.Conn, br *bufio.Reader, s ws.State, deflate bool) libs.Conn {
	u := &util{c: c, st: s, w: wsutil.NewWriter(c, s, ws.OpBinary)}
	u.r = wsutil.Reader{Source: br, State: s}
	if deflate {
		u.fl = newFlater()
		u.r.State |= ws.StateExtended // RSV1 is legal now
		u.r.Extensions = []wsutil.RecvExtension{&u.fl.rs}
		u.w.SetExtensions(&u.fl.ws)
	}
	return u
}

func (u *util) Send(p []byte) error {
	if u.fl != nil {
		return u.fl.send(u.w, p)
	}
	if _, err := u.w.Write(p); err != nil {
		return err
	}
	return u.w.Flush()
}

func (u *util) Serve(buf []byte, fn func([]byte) bool) error {
	for {
		hdr, err := u.r.NextFrame()
		if err != nil {
			return err
		}
		if hdr.OpCode.IsControl() {
			if hdr.OpCode == ws.OpClose {
				return io.EOF
			}
			if err := u.r.Discard(); err != nil {
				return err
			}
			continue
		}
		var n int
		if u.fl != nil && u.fl.rs.IsCompressed() {
			n, err = u.fl.recv(&u.r, buf)
		} else {
			n, err = libs.ReadMsg(&u.r, buf)
		}
		if err != nil {
			return err
		}
		if !fn(buf[:n]) {
			return nil
		}
	}
}

func (u *util) Close() error { return u.c.Close() }

// frame is the bare frame API flavour.
type frame struct {
	c      net.Conn
	br     *bufio.Reader
	bw     *bufio.Writer
	client bool
	hbuf   [ws.MaxHeaderSize]byte
	mbuf   []byte
}

func newFrame(c net.Conn, br *bufio.Reader, s ws.State, _ bool) libs.Conn {
	return &frame{c: c, br: br, bw: bufio.NewWriterSize(c, 4096), client: s.ClientSide()}
}

func (f *frame) Send(p []byte) error {
	h := ws.Header{Fin: true, OpCode: ws.OpBinary, Length: int64(len(p))}
	if f.client {
		h.Masked = true
		h.Mask = ws.NewMask()
		if cap(f.mbuf) < len(p) {
			f.mbuf = make([]byte, len(p))
		}
		m := f.mbuf[:len(p)]
		copy(m, p)
		ws.Cipher(m, h.Mask, 0)
		p = m
	}
	if err := ws.WriteHeader(f.bw, h); err != nil {
		return err
	}
	if _, err := f.bw.Write(p); err != nil {
		return err
	}
	return f.bw.Flush()
}

func (f *frame) Serve(buf []byte, fn func([]byte) bool) error {
	for {
		n := 0
		for {
			h, err := ws.ReadHeaderBuffer(f.br, f.hbuf[:2])
			if err != nil {
				return err
			}
			if h.OpCode.IsControl() {
				if h.OpCode == ws.OpClose {
					return io.EOF
				}
				if _, err := f.br.Discard(int(h.Length)); err != nil {
					return err
				}
				continue
			}
			if h.Length > int64(len(buf)-n) {
				return libs.ErrTooBig
			}
			p := buf[n : n+int(h.Length)]
			if _, err := io.ReadFull(f.br, p); err != nil {
				return err
			}
			if h.Masked {
				ws.Cipher(p, h.Mask, 0)
			}
			n += len(p)
			if h.Fin {
				break
			}
		}
		if !fn(buf[:n]) {
			return nil
		}
	}
}

func (f *frame) Close() error { return f.c.Close() }
