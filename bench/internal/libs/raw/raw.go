// Package raw is the baseline: messages framed with a 4-byte big-endian
// length prefix over the bare TCP connection, read through a 4 KiB buffer
// and written with one write (small) or writev (large).
package raw

import (
	"bufio"
	"encoding/binary"
	"io"
	"net"

	"github.com/dillgo/ws/bench/internal/libs"
)

func init() {
	libs.Register(libs.Lib{Name: "raw", Raw: true, Client: attach, Server: attach})
}

const bufSize = 4096

type conn struct {
	c    net.Conn
	br   *bufio.Reader
	wbuf []byte
	hdr  [4]byte
	vec  [2][]byte
	bufs net.Buffers
}

func attach(c net.Conn, _ libs.Opts) (libs.Conn, error) {
	return &conn{c: c, br: bufio.NewReaderSize(c, bufSize), wbuf: make([]byte, bufSize)}, nil
}

func (c *conn) Send(p []byte) error {
	if len(p)+4 <= len(c.wbuf) {
		binary.BigEndian.PutUint32(c.wbuf, uint32(len(p)))
		n := copy(c.wbuf[4:], p)
		_, err := c.c.Write(c.wbuf[:4+n])
		return err
	}
	binary.BigEndian.PutUint32(c.hdr[:], uint32(len(p)))
	c.vec[0], c.vec[1] = c.hdr[:], p
	c.bufs = c.vec[:]
	_, err := c.bufs.WriteTo(c.c)
	return err
}

func (c *conn) Serve(buf []byte, fn func([]byte) bool) error {
	var hdr [4]byte
	for {
		if _, err := io.ReadFull(c.br, hdr[:]); err != nil {
			return err
		}
		n := int(binary.BigEndian.Uint32(hdr[:]))
		if n > len(buf) {
			return libs.ErrTooBig
		}
		if _, err := io.ReadFull(c.br, buf[:n]); err != nil {
			return err
		}
		if !fn(buf[:n]) {
			return nil
		}
	}
}

func (c *conn) Close() error { return c.c.Close() }
