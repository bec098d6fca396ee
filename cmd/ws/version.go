package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

const versionDoc = `
Usage: ws version

Prints the module version of ws (from its build information), the
revision it was built from when known, and the Go version.
`

func runVersion(e *env, args []string) int {
	fs := newFlags(e, "version", versionDoc)
	pos, err := parseArgs(e, fs, args)
	if err != nil {
		return parseExit(err)
	}
	if len(pos) > 0 {
		return fs.usageError(e, fmt.Errorf("unexpected argument %q", pos[0]))
	}
	fmt.Fprintln(e.stdout, versionString())
	return exitOK
}

func versionString() string {
	v := "(unknown)"
	var rev, dirty string
	if bi, ok := debug.ReadBuildInfo(); ok {
		v = bi.Main.Version
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				if s.Value == "true" {
					dirty = "+dirty"
				}
			}
		}
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if rev != "" {
		v += " " + rev + dirty
	}
	return fmt.Sprintf("ws %s %s %s/%s", v, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
