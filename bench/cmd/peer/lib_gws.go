//go:build !single || gws

package main

import _ "github.com/dillgo/ws/bench/internal/libs/gws"
