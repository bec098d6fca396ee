package main

import (
	"errors"

	"github.com/dillgo/ws"
)

// errNoCompression is returned while the library has no permessage-deflate.
var errNoCompression = errors.New("permessage-deflate is not available in this build of github.com/dillgo/ws")

// compressionAvailable reports whether setCompression can enable
// permessage-deflate. serve offers it by default when true.
const compressionAvailable = false

// setCompression enables permessage-deflate on cfg: offered by a client,
// accepted by a server. It is the one place to switch on once
// ws.Config.Compression lands:
//
//	cfg.Compression = &ws.CompressionOptions{}
//	return nil
func setCompression(cfg *ws.Config) error {
	_ = cfg
	return errNoCompression
}
