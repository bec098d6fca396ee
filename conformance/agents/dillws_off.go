//go:build nows

package agents

// Built with -tags nows: the agents on github.com/dillgo/ws are left out,
// so the suite and the calibration agents still build and run while the
// core package does not compile.

// WsServers lists no agents under the nows tag.
func WsServers() []Server { return nil }

// WsClients lists no agents under the nows tag.
func WsClients() []Client { return nil }
