module github.com/dillgo/ws

go 1.24
