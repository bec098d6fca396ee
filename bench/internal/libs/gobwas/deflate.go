package gobwas

import (
	"io"

	"github.com/gobwas/ws/wsflate"
	"github.com/gobwas/ws/wsutil"
	"github.com/klauspost/compress/flate"

	"github.com/dillgo/ws/bench/internal/libs"
)

// deflateParams are gobwas's defaults: no context takeover either way.
var deflateParams = wsflate.DefaultParameters

// flater holds the per-connection permessage-deflate state, as in the
// wsflate documentation's example.
type flater struct {
	rs wsflate.MessageState // receive side: was this message compressed?
	ws wsflate.MessageState // send side: compress this message
	fr *wsflate.Reader
	fw *wsflate.Writer
}

func newFlater() *flater {
	f := &flater{}
	f.fr = wsflate.NewReader(nil, func(r io.Reader) wsflate.Decompressor { return flate.NewReader(r) })
	f.fw = wsflate.NewWriter(nil, func(w io.Writer) wsflate.Compressor {
		c, _ := flate.NewWriter(w, flate.BestSpeed)
		return c
	})
	return f
}

func (f *flater) send(w *wsutil.Writer, p []byte) error {
	f.ws.SetCompressed(true)
	f.fw.Reset(w)
	if _, err := f.fw.Write(p); err != nil {
		return err
	}
	if err := f.fw.Close(); err != nil {
		return err
	}
	return w.Flush()
}

func (f *flater) recv(r *wsutil.Reader, buf []byte) (int, error) {
	f.fr.Reset(r)
	return libs.ReadMsg(f.fr, buf)
}
