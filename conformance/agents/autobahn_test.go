package agents

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/dillgo/ws/conformance/suite"
)

// TestServeAutobahnProtocol drives the fuzzing server the way Autobahn
// client drivers do (/getCaseCount, /runCase, /updateReports) with a
// gorilla client agent.
func TestServeAutobahnProtocol(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cases := suite.Cases(suite.ModeClient, false, []string{"1.1.*", "2.5", "6.3.1", "H.4.1"}, nil)
	reports := make(chan *suite.Report, 1)
	served := make(chan error, 1)
	go func() {
		served <- suite.ServeAutobahn(ctx, ln, cases, suite.Options{}, nil, func(r *suite.Report) { reports <- r })
	}()
	base := "ws://" + ln.Addr().String()

	c, _, err := websocket.DefaultDialer.DialContext(ctx, base+"/getCaseCount", nil)
	if err != nil {
		t.Fatal(err)
	}
	_, msg, err := c.ReadMessage()
	c.Close()
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(string(msg))
	if err != nil || n != len(cases) {
		t.Fatalf("case count %q, want %d", msg, len(cases))
	}
	client := GorillaClient()
	for i := 1; i <= n; i++ {
		client.Run(ctx, fmt.Sprintf("%s/runCase?case=%d&agent=drv", base, i))
	}
	if c, _, err := websocket.DefaultDialer.DialContext(ctx, base+"/updateReports?agent=drv", nil); err == nil {
		c.ReadMessage()
		c.Close()
	}
	select {
	case rep := <-reports:
		if rep.Agent != "drv" || len(rep.Results) != n {
			t.Fatalf("report %s with %d results", rep.Agent, len(rep.Results))
		}
		if rep.FailedN != 0 || len(rep.Crashes()) != 0 {
			t.Errorf("gorilla through the Autobahn protocol: %s: %+v", rep.Summary(), rep.FailedResults())
		}
	case <-ctx.Done():
		t.Fatal("no report")
	}
	cancel()
	if err := <-served; err != nil {
		t.Errorf("ServeAutobahn: %v", err)
	}
}
