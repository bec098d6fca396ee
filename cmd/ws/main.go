// Command ws is a WebSocket tool built on github.com/dillgo/ws: a server
// (echo, broadcast, process bridge, static files, a demo page), an
// interactive client that works in pipes, and a load generator.
//
//	go install github.com/dillgo/ws/cmd/ws@latest
//	ws serve                      # echo server + demo page on 127.0.0.1:8080
//	ws dial ws://127.0.0.1:8080/  # each stdin line is a message
//	ws bench                      # benchmark an in-process echo server
//
// Run "ws help" for the subcommands and "ws help CMD" for their flags.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
)

// Exit codes shared by the subcommands; dial documents its own meanings.
const (
	exitOK        = 0
	exitUsage     = 1 // bad flags or arguments, or a local failure
	exitHandshake = 2 // could not connect or the handshake was refused
	exitProto     = 3 // protocol error, or the peer closed with an error code
	exitAbnormal  = 4 // the connection ended without a closing handshake
	exitInterrupt = 130
)

// command is one subcommand: run parses args and returns the exit code.
type command struct {
	name    string
	summary string
	run     func(env *env, args []string) int
}

// env is what a subcommand may touch of the process: its standard files
// and a way to learn about signals. Tests run subcommands as real
// processes, so this is mostly a seam for readability.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
}

func commands() []command {
	return []command{
		{"serve", "run a WebSocket server (echo, broadcast, exec bridge, files)", runServe},
		{"dial", "connect to a WebSocket server; stdin lines are messages", runDial},
		{"bench", "measure throughput and latency against an echo server", runBench},
		{"version", "print the version", runVersion},
		{"help", "show help for a command", runHelp},
	}
}

func main() {
	e := &env{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr}
	os.Exit(run(e, os.Args[1:]))
}

func run(e *env, args []string) int {
	if len(args) == 0 {
		usage(e.stderr)
		return exitUsage
	}
	name := args[0]
	switch name {
	case "-h", "-help", "--help":
		usage(e.stdout)
		return exitOK
	case "-version", "--version":
		name = "version"
	}
	for _, c := range commands() {
		if c.name == name {
			return c.run(e, args[1:])
		}
	}
	fmt.Fprintf(e.stderr, "ws: unknown command %q\n", name)
	usage(e.stderr)
	return exitUsage
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "ws is a WebSocket server, client and benchmark.\n\nUsage:\n  ws <command> [flags] [arguments]\n\nCommands:\n")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "\nRun \"ws help <command>\" or \"ws <command> -h\" for its flags.\n")
}

func runHelp(e *env, args []string) int {
	if len(args) == 0 {
		usage(e.stdout)
		return exitOK
	}
	if len(args) > 1 {
		fmt.Fprintln(e.stderr, "ws: help: one command at a time")
		return exitUsage
	}
	for _, c := range commands() {
		if c.name == args[0] && c.name != "help" {
			return c.run(e, []string{"-h"})
		}
	}
	if args[0] == "help" {
		usage(e.stdout)
		return exitOK
	}
	fmt.Fprintf(e.stderr, "ws: help: unknown command %q\n", args[0])
	return exitUsage
}

// fail prints "ws: cmd: err" and returns code.
func fail(e *env, cmd string, code int, err error) int {
	fmt.Fprintf(e.stderr, "ws: %s: %v\n", cmd, err)
	return code
}

var errUsage = errors.New("usage")
