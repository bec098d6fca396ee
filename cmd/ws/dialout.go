package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/dillgo/ws"
)

// The forms in which ws dial prints the messages it receives (--output).
const (
	outText   = "text"   // text as is (escaped on a terminal), binary as a hex preview
	outRaw    = "raw"    // the payload bytes exactly, nothing added
	outBase64 = "base64" // one line of standard base64 per message
	outJSONL  = "jsonl"  // one JSON object per message
)

func checkOutput(mode string, timestamps bool) error {
	switch mode {
	case outText, outBase64, outJSONL:
		return nil
	case outRaw:
		if timestamps {
			return fmt.Errorf("--timestamps does not combine with --output raw")
		}
		return nil
	}
	return fmt.Errorf("--output %q: want text, raw, base64 or jsonl", escapeLine(mode))
}

// printer formats received messages for stdout.
type printer struct {
	w          io.Writer
	mode       string
	timestamps bool
	escape     bool // stdout is a terminal: text is shown escaped
	tty        bool // interactive: text lines are prefixed "< "
}

// stamp is the --timestamps form: RFC 3339 with milliseconds.
const stamp = "2006-01-02T15:04:05.000Z07:00"

func (p *printer) print(m message, at time.Time) {
	io.WriteString(p.w, p.format(m, at))
}

func (p *printer) format(m message, at time.Time) string {
	var b strings.Builder
	switch p.mode {
	case outRaw:
		return string(m.p)
	case outJSONL:
		kind, data := "text", string(m.p)
		if m.f == ws.Binary {
			kind, data = "binary", base64.StdEncoding.EncodeToString(m.p)
		}
		rec := struct {
			Time string `json:"time,omitempty"`
			Type string `json:"type"`
			Data string `json:"data"`
		}{Type: kind, Data: data}
		if p.timestamps {
			rec.Time = at.Format(stamp)
		}
		j, _ := json.Marshal(rec) // strings only: cannot fail
		b.Write(j)
		b.WriteByte('\n')
		return b.String()
	}
	if p.tty {
		b.WriteString("< ")
	}
	if p.timestamps {
		b.WriteString(at.Format(stamp) + " ")
	}
	switch {
	case p.mode == outBase64:
		b.WriteString(base64.StdEncoding.EncodeToString(m.p))
	case m.f == ws.Binary:
		b.WriteString(describeBinary(m.p))
	case p.escape:
		b.WriteString(escapeControls(string(m.p)))
	default:
		b.Write(m.p)
	}
	b.WriteByte('\n')
	return b.String()
}
