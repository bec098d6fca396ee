//go:build !single || coder

package main

import _ "github.com/dillgo/ws/bench/internal/libs/coder"
