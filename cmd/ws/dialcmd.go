package main

import (
	"context"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/dillgo/ws"
)

// The interactive commands of ws dial: lines typed at a terminal that
// start with "/".

const dialCommands = `commands:
  /ping                  show the round trip time
  /close [CODE [REASON]] close with CODE (default 1000) and wait for the server's close
  /binary HEX            send a binary message (hex digits, spaces allowed)
  //TEXT                 send "/TEXT"
`

func (d *dialer) command(line string) {
	stderr := d.s.e.stderr
	name, arg, _ := strings.Cut(strings.TrimSpace(line), " ")
	arg = strings.TrimSpace(arg)
	switch name {
	case "/ping":
		d.showRTT()
	case "/close":
		code, reason, err := parseClose(arg)
		if err == nil {
			err = d.close(code, reason)
		}
		if err != nil {
			fmt.Fprintf(stderr, "ws: /close: %v\n", libError(err))
		}
	case "/binary":
		p, err := hex.DecodeString(strings.Join(strings.Fields(arg), ""))
		if err != nil {
			fmt.Fprintf(stderr, "ws: /binary: want hex digits: %v\n", err)
			return
		}
		if !d.closing {
			d.send(ws.Binary, p)
		}
	case "/help", "/?":
		fmt.Fprint(stderr, dialCommands)
	default:
		fmt.Fprintf(stderr, "ws: unknown command %q (/help lists them; //text sends /text)\n", escapeLine(name))
	}
}

// parseClose parses "/close [CODE [REASON]]".
func parseClose(arg string) (ws.StatusCode, string, error) {
	if arg == "" {
		return ws.StatusNormalClosure, "", nil
	}
	num, reason, _ := strings.Cut(arg, " ")
	n, err := strconv.ParseUint(num, 10, 16)
	if err != nil {
		return 0, "", fmt.Errorf("%q is not a close code (1000-1014, 3000-4999)", escapeLine(num))
	}
	return ws.StatusCode(n), strings.TrimSpace(reason), nil
}

// showRTT sends a WebSocket ping and prints its round trip on stderr,
// once the server's pong came back (Conn.Ping; the receive loop sees the
// pong). At most the --wait time is spent waiting for it.
func (d *dialer) showRTT() {
	ctx, cancel := context.WithTimeout(context.Background(), d.s.o.wait)
	defer cancel()
	rtt, err := d.c.Ping(ctx)
	if err != nil {
		fmt.Fprintf(d.s.e.stderr, "ws: ping: %v\n", err)
		return
	}
	fmt.Fprintf(d.s.e.stderr, "rtt %v\n", rtt.Round(time.Microsecond))
}
