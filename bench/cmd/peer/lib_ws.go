//go:build !single || ws

package main

import _ "github.com/dillgo/ws/bench/internal/libs/dillws"
