package main

import (
	"context"
	"errors"
	"io"
	"log/slog"

	"github.com/dillgo/ws"
)

// echo sends every message back to its sender: whole from a 64 KiB buffer
// when it fits, streamed through a Writer otherwise.
func echo(ctx context.Context, c *ws.Conn, _ *slog.Logger) error {
	buf := make([]byte, 64<<10)
	for {
		if err := echoOne(ctx, c, buf); err != nil {
			return finish(ctx, c, err)
		}
	}
}

// echoOne receives one message and sends it back.
func echoOne(ctx context.Context, c *ws.Conn, buf []byte) error {
	f, r, err := c.Reader(ctx)
	if err != nil {
		return err
	}
	n, err := io.ReadFull(r, buf)
	switch {
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return c.Send(ctx, f, buf[:n])
	case err == nil:
		return echoStream(ctx, c, f, buf, r)
	}
	return err
}

// echoStream sends back a message larger than buf: buf holds its start,
// r the rest.
func echoStream(ctx context.Context, c *ws.Conn, f ws.Flags, buf []byte, r io.Reader) error {
	w, err := c.Writer(ctx, f)
	if err != nil {
		return err
	}
	if _, err := w.Write(buf); err != nil {
		return err
	}
	for {
		n, rerr := r.Read(buf)
		if n > 0 {
			if _, err := w.Write(buf[:n]); err != nil {
				return err
			}
		}
		if errors.Is(rerr, io.EOF) {
			return w.Close()
		}
		if rerr != nil {
			return rerr
		}
	}
}
