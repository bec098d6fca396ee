package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
)

// flagSet is a subcommand's flags and its description for -h.
type flagSet struct {
	*flag.FlagSet
	doc string
}

// newFlags returns a flag set for a subcommand whose -h prints doc (the
// command's synopsis and description) followed by its flags.
func newFlags(e *env, name, doc string) *flagSet {
	fs := flag.NewFlagSet("ws "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // parseArgs reports errors as "ws: cmd: …"
	fs.Usage = func() {}
	return &flagSet{fs, doc}
}

func (fs *flagSet) name() string { return strings.TrimPrefix(fs.Name(), "ws ") }

// showUsage prints the description and the flags to w.
func (fs *flagSet) showUsage(w io.Writer) {
	fmt.Fprint(w, strings.TrimLeft(fs.doc, "\n"))
	fmt.Fprintln(w, "\nFlags:")
	out := fs.Output()
	fs.SetOutput(w)
	fs.PrintDefaults()
	fs.SetOutput(out)
}

// usageError prints "ws: cmd: err" and a pointer to the usage, and
// returns exitUsage.
func (fs *flagSet) usageError(e *env, err error) int {
	fmt.Fprintf(e.stderr, "ws: %s: %v\nRun 'ws help %s' for usage.\n", fs.name(), err, fs.name())
	return exitUsage
}

// parseArgs parses flags anywhere among args ("ws dial URL --binary"
// works), returning the positional arguments. Everything after "--" is
// positional. -h prints the usage on stdout and reports flag.ErrHelp.
func parseArgs(e *env, fs *flagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fs.showUsage(e.stdout)
			} else {
				fs.usageError(e, err)
			}
			return nil, err
		}
		rest := fs.Args()
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			return append(pos, rest...), nil
		}
		if len(rest) == 0 {
			return pos, nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// parseExit turns a parseArgs error into an exit code.
func parseExit(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	return exitUsage
}

// listFlag is a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error {
	*l = append(*l, s)
	return nil
}

// headerFlag is a repeatable -H 'Name: value' flag.
type headerFlag struct{ h http.Header }

func (f *headerFlag) String() string { return "" }
func (f *headerFlag) Set(s string) error {
	name, value, ok := strings.Cut(s, ":")
	name = strings.TrimSpace(name)
	if !ok || name == "" || strings.ContainsAny(name, " \t\r\n") {
		return fmt.Errorf("want 'Name: value', got %q", s)
	}
	if f.h == nil {
		f.h = http.Header{}
	}
	f.h.Add(name, strings.TrimSpace(value))
	return nil
}

// tlsFlags are the client's TLS options, shared by dial and bench.
type tlsFlags struct {
	insecure bool
	cacert   string
}

func (t *tlsFlags) register(fs *flag.FlagSet) {
	fs.BoolVar(&t.insecure, "insecure", false, "wss://: do not verify the server's certificate")
	fs.StringVar(&t.cacert, "cacert", "", "wss://: trust the PEM certificates in `FILE` (instead of the system's roots)")
}

// config returns the TLS client configuration, nil for the defaults.
func (t *tlsFlags) config() (*tls.Config, error) {
	if !t.insecure && t.cacert == "" {
		return nil, nil
	}
	cfg := &tls.Config{InsecureSkipVerify: t.insecure}
	if t.cacert != "" {
		pem, err := os.ReadFile(t.cacert)
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s: no PEM certificate found", t.cacert)
		}
		cfg.RootCAs = pool
	}
	return cfg, nil
}

// given reports whether the flag name was set on the command line.
func (fs *flagSet) given(name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// withClientCert returns a copy of cfg (nil: the defaults) that presents
// the certificate in certFile with the key in keyFile.
func withClientCert(cfg *tls.Config, certFile, keyFile string) (*tls.Config, error) {
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("--cert/--key: %w", err)
	}
	if cfg == nil {
		cfg = &tls.Config{}
	} else {
		cfg = cfg.Clone()
	}
	cfg.Certificates = []tls.Certificate{pair}
	return cfg, nil
}
