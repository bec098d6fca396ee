package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"unicode"
)

// editor is ws dial's interactive line editor: the terminal in raw mode,
// one line being typed at the bottom, with history. Everything ws dial
// prints goes through it (editorWriter), so that a message arriving
// while a line is typed is printed above it and the line is redrawn
// intact. The terminal's signals stay on: Ctrl-C is SIGINT.
type editor struct {
	mu      sync.Mutex
	tty     *os.File // where the line is drawn (stdout)
	prompt  string
	buf     []rune
	pos     int // cursor, an index into buf
	off     int // first rune shown: long lines scroll horizontally
	hist    [][]rune
	hidx    int    // index into hist while browsing; len(hist) when not
	draft   []rune // the line being typed before browsing began
	done    bool   // Ctrl-D or stop: nothing is drawn any more
	restore func()
	once    sync.Once
}

const historyMax = 1000

// startEditor puts the terminal in raw mode and starts reading lines
// into lines; it reroutes the session's output through the editor. It
// returns nil (and changes nothing) if the terminal cannot be set up.
func (s *session) startEditor(lines chan<- []byte) *editor {
	if !s.tty {
		return nil
	}
	restore, err := makeRaw(os.Stdin.Fd())
	if err != nil {
		return nil
	}
	ed := &editor{tty: os.Stdout, prompt: "> ", restore: restore}
	s.e = &env{stdin: s.e.stdin, stdout: editorWriter{ed, s.e.stdout}, stderr: editorWriter{ed, s.e.stderr}}
	s.out.w = s.e.stdout
	ed.mu.Lock()
	ed.draw()
	ed.mu.Unlock()
	go ed.read(bufio.NewReader(os.Stdin), lines)
	return ed
}

// stop restores the terminal and clears the line being typed; safe to
// call more than once.
func (ed *editor) stop() {
	ed.once.Do(func() {
		ed.mu.Lock()
		defer ed.mu.Unlock()
		ed.done = true
		io.WriteString(ed.tty, "\r\x1b[K")
		ed.restore()
	})
}

// editorWriter writes through the editor: above the line being typed.
type editorWriter struct {
	ed *editor
	w  io.Writer
}

func (w editorWriter) Write(p []byte) (int, error) {
	ed := w.ed
	ed.mu.Lock()
	defer ed.mu.Unlock()
	if ed.done {
		return w.w.Write(p)
	}
	io.WriteString(ed.tty, "\r\x1b[K")
	n, err := w.w.Write(p)
	if len(p) > 0 && p[len(p)-1] != '\n' {
		io.WriteString(w.w, "\n")
	}
	ed.draw()
	return n, err
}

// draw redraws the line (ed.mu held).
func (ed *editor) draw() {
	if ed.done {
		return
	}
	room := max(8, termWidth(ed.tty.Fd())-len(ed.prompt)-1)
	if ed.pos < ed.off {
		ed.off = ed.pos
	}
	if ed.pos > ed.off+room {
		ed.off = ed.pos - room
	}
	end := min(len(ed.buf), ed.off+room)
	var b strings.Builder
	b.WriteString("\r" + ed.prompt + shown(ed.buf[ed.off:end]) + "\x1b[K\r")
	if col := len(ed.prompt) + ed.pos - ed.off; col > 0 {
		fmt.Fprintf(&b, "\x1b[%dC", col)
	}
	io.WriteString(ed.tty, b.String())
}

// read turns keys into edits and lines until Ctrl-D on an empty line or
// the end of input, then closes lines.
func (ed *editor) read(r *bufio.Reader, lines chan<- []byte) {
	defer close(lines)
	for {
		k, err := readKey(r)
		if err != nil {
			ed.finish()
			return
		}
		literal := k == 22 // Ctrl-V: the next key is inserted as is
		if literal {
			if k, _, err = r.ReadRune(); err != nil {
				ed.finish()
				return
			}
		}
		ed.mu.Lock()
		var line string
		var submit, eof bool
		if literal {
			ed.insert(k)
			ed.draw()
		} else {
			line, submit, eof = ed.key(k)
		}
		ed.mu.Unlock()
		if eof {
			ed.finish()
			return
		}
		if submit {
			lines <- []byte(line)
		}
	}
}

func (ed *editor) finish() {
	ed.mu.Lock()
	ed.done = true
	io.WriteString(ed.tty, "\r\x1b[K")
	ed.mu.Unlock()
}

// Keys beyond runes, as readKey reports them.
const (
	keyUp rune = -1 - iota
	keyDown
	keyLeft
	keyRight
	keyHome
	keyEnd
	keyDelete
	keyNone
)

// readKey reads one key: a rune, a control character or an escape
// sequence (CSI or SS3) mapped to the keys above.
func readKey(r *bufio.Reader) (rune, error) {
	c, _, err := r.ReadRune()
	if err != nil || c != 0x1b {
		return c, err
	}
	c, _, err = r.ReadRune()
	if err != nil {
		return 0, err
	}
	if c != '[' && c != 'O' {
		return keyNone, nil
	}
	var param strings.Builder
	for {
		c, _, err = r.ReadRune()
		if err != nil {
			return 0, err
		}
		if c >= 0x40 && c <= 0x7e {
			break
		}
		param.WriteRune(c)
	}
	switch c {
	case 'A':
		return keyUp, nil
	case 'B':
		return keyDown, nil
	case 'C':
		return keyRight, nil
	case 'D':
		return keyLeft, nil
	case 'H':
		return keyHome, nil
	case 'F':
		return keyEnd, nil
	case '~':
		switch param.String() {
		case "1", "7":
			return keyHome, nil
		case "4", "8":
			return keyEnd, nil
		case "3":
			return keyDelete, nil
		}
	}
	return keyNone, nil
}

// key applies k (ed.mu held); it returns the line when Enter submitted
// it, and eof for Ctrl-D on an empty line.
func (ed *editor) key(k rune) (line string, submit, eof bool) {
	switch k {
	case '\r', '\n':
		line = string(ed.buf)
		ed.pos = len(ed.buf)
		ed.draw()
		io.WriteString(ed.tty, "\n")
		ed.remember()
		ed.buf, ed.pos, ed.off = nil, 0, 0
		ed.draw()
		return line, true, false
	case 4: // Ctrl-D
		if len(ed.buf) == 0 {
			return "", false, true
		}
		ed.deleteAt(ed.pos)
	case 127, 8: // Backspace
		if ed.pos > 0 {
			ed.pos--
			ed.deleteAt(ed.pos)
		}
	case keyDelete:
		ed.deleteAt(ed.pos)
	case keyLeft, 2: // Ctrl-B
		ed.pos = max(0, ed.pos-1)
	case keyRight, 6: // Ctrl-F
		ed.pos = min(len(ed.buf), ed.pos+1)
	case keyHome, 1: // Ctrl-A
		ed.pos = 0
	case keyEnd, 5: // Ctrl-E
		ed.pos = len(ed.buf)
	case 11: // Ctrl-K
		ed.buf = ed.buf[:ed.pos]
	case 21: // Ctrl-U
		ed.buf = append([]rune(nil), ed.buf[ed.pos:]...)
		ed.pos = 0
	case 23: // Ctrl-W
		start := ed.pos
		for start > 0 && ed.buf[start-1] == ' ' {
			start--
		}
		for start > 0 && ed.buf[start-1] != ' ' {
			start--
		}
		ed.buf = append(ed.buf[:start:start], ed.buf[ed.pos:]...)
		ed.pos = start
	case keyUp, 16: // Ctrl-P
		ed.browse(-1)
	case keyDown, 14: // Ctrl-N
		ed.browse(+1)
	default:
		if k < 0 || !unicode.IsPrint(k) {
			return "", false, false
		}
		ed.insert(k)
	}
	ed.draw()
	return "", false, false
}

func (ed *editor) insert(k rune) {
	ed.buf = append(ed.buf[:ed.pos], append([]rune{k}, ed.buf[ed.pos:]...)...)
	ed.pos++
}

// shown is how a rune of the line is drawn: control characters (typed
// with Ctrl-V) as their one-column Unicode pictures (␛ for ESC), so that
// the line cannot drive the terminal.
func shown(buf []rune) string {
	var b strings.Builder
	for _, r := range buf {
		switch {
		case r < 0x20:
			b.WriteRune(0x2400 + r)
		case r == 0x7f:
			b.WriteRune(0x2421)
		case r >= 0x80 && r < 0xa0:
			b.WriteRune(0xfffd)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func (ed *editor) deleteAt(i int) {
	if i < len(ed.buf) {
		ed.buf = append(ed.buf[:i], ed.buf[i+1:]...)
	}
}

// remember adds the line to the history (not empty, not a repeat).
func (ed *editor) remember() {
	if len(ed.buf) > 0 && (len(ed.hist) == 0 || string(ed.hist[len(ed.hist)-1]) != string(ed.buf)) {
		ed.hist = append(ed.hist, ed.buf)
		if len(ed.hist) > historyMax {
			ed.hist = ed.hist[1:]
		}
	}
	ed.hidx, ed.draft = len(ed.hist), nil
}

// browse moves through the history by dir, keeping the draft.
func (ed *editor) browse(dir int) {
	i := ed.hidx + dir
	if i < 0 || i > len(ed.hist) {
		return
	}
	if ed.hidx == len(ed.hist) {
		ed.draft = ed.buf
	}
	ed.hidx = i
	if i == len(ed.hist) {
		ed.buf = ed.draft
	} else {
		ed.buf = append([]rune(nil), ed.hist[i]...)
	}
	ed.pos = len(ed.buf)
}
