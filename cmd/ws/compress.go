package main

import "github.com/dillgo/ws"

// setCompression enables permessage-deflate (RFC 7692) on cfg with the
// library's defaults: offered by a client, accepted by a server. With
// NoHTTP both sides must enable it, as nothing is negotiated.
func setCompression(cfg *ws.Config) error {
	cfg.Compression = &ws.CompressionOptions{}
	return nil
}
