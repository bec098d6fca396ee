// Command wsconform runs the Autobahn-style conformance suite.
//
//	wsconform server -addr 127.0.0.1:9001 [-agent NAME]   test a WebSocket server
//	wsconform client -listen 127.0.0.1:9001               serve Autobahn's fuzzing-server
//	                                                      protocol to external clients
//	                                                      (/getCaseCount, /runCase?case=N&agent=A,
//	                                                      /updateReports?agent=A)
//	wsconform agent -name gorilla|coder|ws-…|all [-mode server|client|both]
//	                                                      run the built-in agents in-process
//	wsconform list [-mode server|client]                  list the cases
//
// Common flags: -cases 1.*,6.4.* (include), -exclude 9.*, -full (section 9
// up to 16 MiB), -out DIR (reports; default ./reports), -v (one line per case).
// The exit status is 1 when any case counts as failed, 2 on usage errors.
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/dillgo/ws/conformance/agents"
	"github.com/dillgo/ws/conformance/suite"
)

type common struct {
	cases, exclude, out string
	full, verbose       bool
	settle, timeout     time.Duration
}

func (c *common) register(fs *flag.FlagSet) {
	fs.StringVar(&c.cases, "cases", "", "comma-separated case patterns to include (e.g. 1.*,6.4.*)")
	fs.StringVar(&c.exclude, "exclude", "", "comma-separated case patterns to exclude")
	fs.StringVar(&c.out, "out", "reports", "directory for Markdown and JSON reports (\"\" for none)")
	fs.BoolVar(&c.full, "full", false, "run the full section 9 size set (up to 16 MiB)")
	fs.BoolVar(&c.verbose, "v", false, "print one line per case")
	fs.DurationVar(&c.settle, "settle", 0, "how long \"nothing happens\" is awaited (default 500ms)")
	fs.DurationVar(&c.timeout, "timeout", 0, "default per-case time bound (default 8s)")
}

func (c *common) options(only string) suite.Options {
	return suite.Options{Full: c.full, Settle: c.settle, Timeout: c.timeout, OnlyType: only}
}

func (c *common) selected(mode suite.Mode) []*suite.Case {
	return suite.Cases(mode, c.full, split(c.cases), split(c.exclude))
}

func (c *common) progress() suite.Progress {
	if !c.verbose {
		return nil
	}
	return func(r suite.Result) {
		fmt.Printf("%-10s %-13s %8.1fms %s\n", r.ID, r.Outcome, float64(r.Duration.Microseconds())/1000, r.Detail)
	}
}

func split(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	var failed bool
	var err error
	switch os.Args[1] {
	case "server":
		failed, err = cmdServer(ctx, os.Args[2:])
	case "client":
		err = cmdClient(ctx, os.Args[2:])
	case "agent":
		failed, err = cmdAgent(ctx, os.Args[2:])
	case "list":
		err = cmdList(os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "wsconform:", err)
		os.Exit(2)
	}
	if failed {
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: wsconform server|client|agent|list [flags] (wsconform CMD -h for flags)")
	os.Exit(2)
}

func cmdServer(ctx context.Context, args []string) (bool, error) {
	fs := flag.NewFlagSet("server", flag.ExitOnError)
	var c common
	c.register(fs)
	addr := fs.String("addr", "127.0.0.1:9001", "host:port of the WebSocket server under test")
	name := fs.String("agent", "server", "name of the server in the report")
	only := fs.String("only", "", "the server accepts only \"text\" or \"binary\" messages (closes 1003 on the other)")
	h2 := fs.Bool("http2", false, "reach the server over RFC 8441 streams on h2c (HTTP/2 with prior knowledge); section H does not apply")
	fs.Parse(args)
	cases := c.selected(suite.ModeServer)
	if *h2 {
		cases = slices.DeleteFunc(cases, func(c *suite.Case) bool { return !c.RunsOverHTTP2() })
	}
	if len(cases) == 0 {
		return false, suite.ErrNoCases
	}
	opts := c.options(*only)
	opts.HTTP2 = *h2
	rep := suite.RunServer(ctx, *addr, *name, cases, opts, c.progress())
	return finish(rep, c.out)
}

func cmdClient(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("client", flag.ExitOnError)
	var c common
	c.register(fs)
	listen := fs.String("listen", "127.0.0.1:9001", "address to listen on")
	fs.Parse(args)
	cases := c.selected(suite.ModeClient)
	if len(cases) == 0 {
		return suite.ErrNoCases
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	fmt.Printf("serving %d cases on ws://%s (Autobahn fuzzing-server protocol)\n", len(cases), ln.Addr())
	return suite.ServeAutobahn(ctx, ln, cases, c.options(""), c.progress(), func(rep *suite.Report) {
		finish(rep, c.out)
	})
}

func cmdAgent(ctx context.Context, args []string) (bool, error) {
	fs := flag.NewFlagSet("agent", flag.ExitOnError)
	var c common
	c.register(fs)
	name := fs.String("name", "all", "agent name (gorilla, coder, ws-send-recv, …) or all")
	mode := fs.String("mode", "both", "side under test: server, client or both")
	fs.Parse(args)
	anyFailed, found := false, false
	if *mode == "server" || *mode == "both" {
		for _, a := range agents.Servers() {
			if *name != "all" && a.Name != *name {
				continue
			}
			found = true
			addr, stop, err := a.Start()
			if err != nil {
				return false, err
			}
			rep := suite.RunServer(ctx, addr, a.Name, c.selected(suite.ModeServer), c.options(a.OnlyType), c.progress())
			stop()
			f, _ := finish(rep, c.out)
			anyFailed = anyFailed || f
		}
	}
	if *mode == "client" || *mode == "both" {
		for _, a := range agents.Clients() {
			if *name != "all" && a.Name != *name {
				continue
			}
			found = true
			rep, err := suite.RunClient(ctx, a.Name, a.Run, c.selected(suite.ModeClient), c.options(a.OnlyType), c.progress())
			if err != nil {
				return false, err
			}
			f, _ := finish(rep, c.out)
			anyFailed = anyFailed || f
		}
	}
	if !found {
		return false, fmt.Errorf("no agent %q in mode %s", *name, *mode)
	}
	return anyFailed, nil
}

func cmdList(args []string) error {
	fs := flag.NewFlagSet("list", flag.ExitOnError)
	var c common
	c.register(fs)
	mode := fs.String("mode", "server", "side under test: server or client")
	fs.Parse(args)
	m := suite.ModeServer
	if *mode == "client" {
		m = suite.ModeClient
	}
	for _, cs := range c.selected(m) {
		fmt.Printf("%-10s %s\n", cs.ID, cs.Desc)
	}
	return nil
}

// finish prints the summary and writes the reports.
func finish(rep *suite.Report, out string) (bool, error) {
	var sb strings.Builder
	rep.SectionTable(&sb)
	fmt.Printf("\n%s (%s under test)\n%s", rep.Agent, rep.Mode, sb.String())
	for _, r := range rep.FailedResults() {
		fmt.Printf("FAILED %s: %s\n", r.ID, r.Detail)
	}
	fmt.Println(rep.Summary())
	if out != "" {
		if err := os.MkdirAll(out, 0o755); err != nil {
			return rep.FailedN > 0, err
		}
		base := filepath.Join(out, rep.Agent+"-"+rep.Mode)
		for _, w := range []struct {
			ext   string
			write func(f *os.File) error
		}{{".md", func(f *os.File) error { return rep.WriteMarkdown(f) }}, {".json", func(f *os.File) error { return rep.WriteJSON(f) }}} {
			f, err := os.Create(base + w.ext)
			if err != nil {
				return rep.FailedN > 0, err
			}
			werr := w.write(f)
			if cerr := f.Close(); werr == nil {
				werr = cerr
			}
			if werr != nil {
				return rep.FailedN > 0, werr
			}
		}
		fmt.Printf("reports: %s.md, %s.json\n", base, base)
	}
	return rep.FailedN > 0, nil
}
