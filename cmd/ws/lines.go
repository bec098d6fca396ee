package main

import (
	"bufio"
	"bytes"
)

// readLines sends each line of stdin (without its "\n" or "\r\n") on
// lines and closes it at EOF or on a read error. A last line without a
// newline is sent too.
func readLines(e *env, lines chan<- []byte) {
	defer close(lines)
	r := bufio.NewReaderSize(e.stdin, 64<<10)
	for {
		line, err := r.ReadBytes('\n')
		if len(line) > 0 {
			line = bytes.TrimSuffix(line, []byte("\n"))
			line = bytes.TrimSuffix(line, []byte("\r"))
			lines <- line
		}
		if err != nil {
			return
		}
	}
}
