package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/dillgo/ws"
)

// execGrace bounds how long one side of the bridge waits for the other
// after it finished: the process to flush its output and exit after the
// client closed (then its process group is killed), or the client's
// close after the process exited. It fits within ws dial's default
// --wait (2s): a client that closes gets the server's close in time.
const execGrace = 1500 * time.Millisecond

// execBridge is the exec mode, like websocketd: each connection runs
// "sh -c cmd" in a process group of its own; every message received is
// written to its stdin followed by a newline, every line of its stdout is
// sent as a message (text if UTF-8, binary otherwise). Its stderr goes to
// the server's stderr. Its stdout is line-buffered (execOutput): a pty
// when ws serve runs at a terminal, else stdbuf -oL when installed.
//
// Closing is a half-close in both directions: the client's close closes
// the process's stdin, and the server's close (1000, or 1011 if the
// process failed) follows the end of its stdout. When the connection
// ends, whichever way, the process group is killed (after execGrace if
// the client closed cleanly).
func execBridge(cmdline string, log *slog.Logger) handler {
	mode := chooseExecOutput(log)
	return func(ctx context.Context, c *ws.Conn, log *slog.Logger) error {
		pctx, kill := context.WithCancel(context.WithoutCancel(ctx))
		defer kill()
		cmd, out, err := startExec(pctx, cmdline, mode, execEnv(c))
		if err != nil {
			log.Warn("exec failed", "cmd", cmdline, "err", err)
			detach(c, ws.StatusInternalError, "cannot start the command")
			return err
		}
		defer killGroup(cmd)
		log.Info("started", "cmd", cmdline, "pid", cmd.Process.Pid, "output", mode)
		return bridge(ctx, c, cmd, out, kill)
	}
}

// execEnv is the CGI-like environment of the process (documented in
// ws help serve).
func execEnv(c *ws.Conn) []string {
	host, port, _ := net.SplitHostPort(c.Underlying().RemoteAddr().String())
	_, query, _ := strings.Cut(c.Resource(), "?")
	return append(os.Environ(),
		"GATEWAY_INTERFACE=websocket",
		"SERVER_SOFTWARE=ws",
		"REMOTE_ADDR="+host,
		"REMOTE_PORT="+port,
		"REQUEST_URI="+c.Resource(),
		"QUERY_STRING="+query,
		"HTTP_HOST="+c.Host(),
		"WS_SUBPROTOCOL="+c.Subprotocol(),
		"WS_EXTENSIONS="+c.Extensions())
}

// startExec starts "sh -c cmdline" in its own process group with its
// stdout line-buffered as mode says; out is its stdout, stdin the pipe
// to its stdin.
func startExec(ctx context.Context, cmdline string, mode execOutput, env []string) (*execProc, io.ReadCloser, error) {
	argv := []string{"/bin/sh", "-c", cmdline}
	if mode == outStdbuf {
		argv = append([]string{stdbufPath(), "-oL"}, argv...)
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = env
	cmd.Stderr = os.Stderr
	cmd.WaitDelay = time.Second
	setGroup(cmd)
	p := &execProc{Cmd: cmd}
	cmd.Cancel = func() error { return killGroup(p) }
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, nil, err
	}
	p.stdin = stdin
	var out io.ReadCloser
	if mode == outPty {
		out, err = ptyStdout(cmd)
	} else {
		out, err = cmd.StdoutPipe()
	}
	if err != nil {
		return nil, nil, err
	}
	if err := cmd.Start(); err != nil {
		closeSlave(cmd)
		out.Close()
		return nil, nil, err
	}
	if mode == outPty {
		closeSlave(cmd)
	}
	return p, out, nil
}

// execProc is a running bridge process.
type execProc struct {
	*exec.Cmd
	stdin io.WriteCloser
}

// bridge runs the two halves of the bridge until both ended.
func bridge(ctx context.Context, c *ws.Conn, cmd *execProc, stdout io.ReadCloser, kill func()) error {
	// The receive side stops on shutdown, or execGrace after our
	// close went out without the client's answer.
	rctx, stopRecv := context.WithCancel(ctx)
	defer stopRecv()
	out := make(chan error, 1)
	go func() {
		out <- pump(ctx, c, cmd.Cmd, stdout)
		time.AfterFunc(execGrace, stopRecv)
	}()
	rerr := feed(rctx, c, cmd.stdin)
	cmd.stdin.Close()
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
