//go:build !single || gorilla

package main

import _ "github.com/dillgo/ws/bench/internal/libs/gorilla"
