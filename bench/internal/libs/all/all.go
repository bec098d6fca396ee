// Package all links in every library adapter.
package all

import (
	_ "github.com/dillgo/ws/bench/internal/libs/coder"   // coder/websocket
	_ "github.com/dillgo/ws/bench/internal/libs/gobwas"  // gobwas/ws
	_ "github.com/dillgo/ws/bench/internal/libs/gorilla" // gorilla/websocket
	_ "github.com/dillgo/ws/bench/internal/libs/gws"     // lxzan/gws
	_ "github.com/dillgo/ws/bench/internal/libs/raw"     // raw TCP baseline
)
