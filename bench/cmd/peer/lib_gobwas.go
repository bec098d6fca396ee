//go:build !single || gobwas

package main

import _ "github.com/dillgo/ws/bench/internal/libs/gobwas"
