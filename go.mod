module github.com/dillgo/ws

go 1.25.0

require github.com/klauspost/compress v1.20.4

require golang.org/x/net v0.58.0
