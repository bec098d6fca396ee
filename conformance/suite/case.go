package suite

import (
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Outcome is a case verdict with Autobahn|Testsuite's meaning.
type Outcome int

const (
	// OK: the peer behaved exactly as the specification requires.
	OK Outcome = iota
	// NonStrict: the peer behaved correctly but not in the strictest way the
	// case checks for (e.g. it failed an invalid UTF-8 message only once the
	// message was complete rather than on the offending frame).
	NonStrict
	// Informational: the behaviour is recorded, not judged.
	Informational
	// Unimplemented: the case exercises an optional feature the peer does
	// not offer (e.g. it declined permessage-deflate).
	Unimplemented
	// Failed: the peer violated the specification.
	Failed
)

var outcomeNames = [...]string{"OK", "NON-STRICT", "INFORMATIONAL", "UNIMPLEMENTED", "FAILED"}

func (o Outcome) String() string {
	if o >= 0 && int(o) < len(outcomeNames) {
		return outcomeNames[o]
	}
	return fmt.Sprintf("Outcome(%d)", int(o))
}

// MarshalText renders the Autobahn name.
func (o Outcome) MarshalText() ([]byte, error) { return []byte(o.String()), nil }

// UnmarshalText parses the Autobahn name.
func (o *Outcome) UnmarshalText(b []byte) error {
	for i, n := range outcomeNames {
		if n == string(b) {
			*o = Outcome(i)
			return nil
		}
	}
	return fmt.Errorf("unknown outcome %q", b)
}

// severity orders outcomes for combining several checks of one case.
func (o Outcome) severity() int {
	switch o {
	case OK:
		return 0
	case NonStrict:
		return 1
	case Informational:
		return 2
	case Unimplemented:
		return 3
	}
	return 4
}

// Mode says which side of the connection is under test.
type Mode int

const (
	// ModeServer tests a WebSocket server: the engine is the (masking) client.
	ModeServer Mode = 1 << iota
	// ModeClient tests a WebSocket client: the engine is the server.
	ModeClient
	// BothModes is for cases that run against either side.
	BothModes = ModeServer | ModeClient
)

func (m Mode) String() string {
	switch m {
	case ModeServer:
		return "server"
	case ModeClient:
		return "client"
	case BothModes:
		return "both"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// Case is one conformance case.
type Case struct {
	ID     string // Autobahn numbering, "1.1.1"; our own handshake section is "H.…"
	Desc   string // what is sent
	Expect string // what the peer must do
	Modes  Mode   // which sides it applies to; 0 means both
	// Feature names an optional feature (e.g. "permessage-deflate"). Only
	// such cases may end UNIMPLEMENTED without counting as failed.
	Feature string
	Timeout time.Duration // per-case bound; 0 means Options.Timeout
	Full    bool          // only in full runs (Options.Full)
	// Raw cases do their own HTTP handshake: in ModeServer the engine only
	// dials; in ModeClient it reads the request and leaves the answer to the case.
	Raw bool
	// Offer is a Sec-WebSocket-Extensions value the engine offers in its
	// ModeServer handshake (the hook for sections 12 and 13,
	// permessage-deflate). The server's answer is in T.Resp; a case that
	// accepts RSV bits calls T.AllowRsv before data flows. In ModeClient
	// such cases are Raw and answer the client's offer themselves.
	Offer string
	Run   func(t *T)
}

func (c *Case) applies(m Mode) bool { return c.Modes == 0 || c.Modes&m != 0 }

// Options tune a run.
type Options struct {
	Full    bool          // run the full section 9 size set (up to 16 MiB)
	Settle  time.Duration // how long "nothing happens" is awaited (fail-fast checks); default 500ms
	Timeout time.Duration // default per-case bound; default 8s
	// LingerServer bounds the wait for a server under test to close TCP
	// after the closing handshake; default 2s.
	LingerServer time.Duration
	// OnlyType is "text" or "binary" for a peer that accepts messages of
	// one type only (an API typed at attach time, like ws's MRecv): a
	// message of the other type may then be answered with close 1003
	// (RFC 6455 §7.4.1, unsupported data) instead of an echo, and the
	// case ends there.
	OnlyType string
	// AgentExit bounds the wait for an in-process client agent to return
	// after its case ended; default 5s.
	AgentExit time.Duration
	// HTTP2 runs every case over an RFC 8441 stream of an h2c connection
	// (see h2.go): ModeServer dials the server with prior knowledge,
	// ModeClient serves h2c (the process needs GODEBUG=http2xconnect=1).
	// Section H's Raw cases do not apply (Case.RunsOverHTTP2).
	HTTP2 bool
}

func (o Options) withDefaults() Options {
	if o.Settle <= 0 {
		o.Settle = 500 * time.Millisecond
	}
	if o.Timeout <= 0 {
		o.Timeout = 8 * time.Second
	}
	if o.LingerServer <= 0 {
		o.LingerServer = 2 * time.Second
	}
	if o.AgentExit <= 0 {
		o.AgentExit = 5 * time.Second
	}
	return o
}

// The registry. Sections register their cases from init functions; a new
// section (12 and 13, permessage-deflate) only has to call Register.
var (
	regMu    sync.Mutex
	registry = map[string]*Case{}
)

// Register adds cases to the registry. It panics on a duplicate or
// malformed case, which is a programming error in the suite.
func Register(cs ...*Case) {
	regMu.Lock()
	defer regMu.Unlock()
	for _, c := range cs {
		if c.ID == "" || c.Run == nil {
			panic(fmt.Sprintf("suite: malformed case %+v", c))
		}
		if _, dup := registry[c.ID]; dup {
			panic("suite: duplicate case " + c.ID)
		}
		registry[c.ID] = c
	}
}

// Cases returns the registered cases that apply to mode, in Autobahn order,
// filtered by include/exclude patterns (path.Match syntax on IDs, e.g.
// "6.*" or "9.1.?"; a pattern "6" or "6.*" matches the whole section).
// Cases marked Full are left out unless full is set.
func Cases(mode Mode, full bool, include, exclude []string) []*Case {
	regMu.Lock()
	var out []*Case
	for _, c := range registry {
		if !c.applies(mode) || (c.Full && !full) {
			continue
		}
		if len(include) > 0 && !matchAny(include, c.ID) {
			continue
		}
		if matchAny(exclude, c.ID) {
			continue
		}
		out = append(out, c)
	}
	regMu.Unlock()
	sort.Slice(out, func(i, j int) bool { return lessID(out[i].ID, out[j].ID) })
	return out
}

// Lookup returns the case with the given ID.
func Lookup(id string) *Case {
	regMu.Lock()
	defer regMu.Unlock()
	return registry[id]
}

func matchAny(patterns []string, id string) bool {
	for _, p := range patterns {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		if p == id || strings.HasPrefix(id, p+".") {
			return true
		}
		if ok, _ := path.Match(p, id); ok {
			return true
		}
		// "6.*" also matches the deeper "6.4.1".
		if strings.HasSuffix(p, ".*") && strings.HasPrefix(id, strings.TrimSuffix(p, "*")) {
			return true
		}
	}
	return false
}

// lessID orders IDs numerically part by part; a non-numeric part sorts after numbers.
func lessID(a, b string) bool {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(pa) && i < len(pb); i++ {
		na, ea := strconv.Atoi(pa[i])
		nb, eb := strconv.Atoi(pb[i])
		switch {
		case ea == nil && eb == nil:
			if na != nb {
				return na < nb
			}
		case ea == nil:
			return true
		case eb == nil:
			return false
		default:
			if pa[i] != pb[i] {
				return pa[i] < pb[i]
			}
		}
	}
	return len(pa) < len(pb)
}

// Section returns the section of a case ID: "6" for "6.4.1", "H" for "H.1".
func Section(id string) string {
	s, _, _ := strings.Cut(id, ".")
	return s
}
