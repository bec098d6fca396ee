//go:build !single || raw

package main

import _ "github.com/dillgo/ws/bench/internal/libs/raw"
