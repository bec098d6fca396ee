package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"time"
	"unicode/utf8"

	"github.com/dillgo/ws"
)

// execGrace bounds how long one side of the bridge waits for the other
// after it finished: the process to flush its output after the client
// closed, or the client's close after the process exited.
const execGrace = 5 * time.Second

// execBridge is the exec mode, like websocketd: each connection runs
// "sh -c cmd"; every message received is written to its stdin followed by
// a newline, every line of its stdout is sent as a message (text if UTF-8,
// binary otherwise). Its stderr goes to the server's stderr.
//
// Closing is a half-close in both directions: the client's close closes
// the process's stdin, and the server's close (1000, or 1011 if the
// process failed) follows the end of its stdout.
func execBridge(cmdline string) handler {
	return func(ctx context.Context, c *ws.Conn, log *slog.Logger) error {
		pctx, kill := context.WithCancel(context.WithoutCancel(ctx))
		defer kill()
		cmd := exec.CommandContext(pctx, "/bin/sh", "-c", cmdline)
		cmd.Env = append(os.Environ(),
			"REMOTE_ADDR="+c.Underlying().RemoteAddr().String(),
			"REQUEST_URI="+c.Resource(),
			"WS_SUBPROTOCOL="+c.Subprotocol())
		cmd.Stderr = os.Stderr
		cmd.WaitDelay = time.Second
		stdin, err := cmd.StdinPipe()
		if err != nil {
			c.Close()
			return err
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			c.Close()
			return err
		}
		if err := cmd.Start(); err != nil {
			log.Warn("exec failed", "cmd", cmdline, "err", err)
			detach(c, ws.StatusInternalError, "cannot start the command")
			return err
		}
		log.Info("started", "cmd", cmdline, "pid", cmd.Process.Pid)
		// The receive side stops on shutdown, or execGrace after our
		// close went out without the client's answer.
		rctx, stopRecv := context.WithCancel(ctx)
		defer stopRecv()
		out := make(chan error, 1)
		go func() {
			out <- pump(ctx, c, cmd, stdout)
			time.AfterFunc(execGrace, stopRecv)
		}()
		rerr := feed(rctx, c, stdin)
		stdin.Close()
		var ce ws.CloseError
		clean := errors.As(rerr, &ce)
		if !clean {
			kill() // the client is gone or we are shutting down
		}
		var oerr error
		select {
		case oerr = <-out:
		case <-time.After(execGrace):
			kill()
			oerr = <-out
		}
		switch {
		case clean && oerr == nil:
			return detach(c, ce.Code, "")
		case ctx.Err() != nil:
			return detach(c, ws.StatusGoingAway, "server shutting down")
		}
		c.Close()
		if rerr != nil && !clean {
			return rerr
		}
		return oerr
	}
}

// feed writes each message received to w, newline-terminated, until the
// client's close (a CloseError) or a failure. Once the process stops
// reading, messages are received and dropped.
func feed(ctx context.Context, c *ws.Conn, w io.Writer) error {
	bw := bufio.NewWriter(w)
	writing := true
	for {
		m, err := recvMessage(ctx, c)
		if err != nil {
			return err
		}
		if !writing {
			continue
		}
		bw.Write(m.p)
		bw.WriteByte('\n')
		if bw.Flush() != nil {
			writing = false
		}
	}
}

// pump sends each line of r as a message, then waits for the process and
// sends our close: 1000, or 1011 with the exit status if it failed.
func pump(ctx context.Context, c *ws.Conn, cmd *exec.Cmd, r io.Reader) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	var err error
	for err == nil && sc.Scan() {
		line := sc.Bytes()
		f := ws.Text
		if !utf8.Valid(line) {
			f = ws.Binary
		}
		err = c.Send(ctx, f, line)
	}
	if err == nil {
		err = sc.Err()
	}
	if err != nil {
		cmd.Cancel()
		cmd.Wait()
		return err
	}
	code, reason := ws.StatusNormalClosure, ""
	if werr := cmd.Wait(); werr != nil {
		code, reason = ws.StatusInternalError, truncate(werr.Error(), 120)
	}
	dctx, cancel := context.WithTimeout(ctx, execGrace)
	defer cancel()
	if err := c.Done(dctx, code, reason); err != nil && !errors.Is(err, ws.ErrPipe) {
		return fmt.Errorf("sending close: %w", err)
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
