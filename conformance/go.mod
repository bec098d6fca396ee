module github.com/dillgo/ws/conformance

go 1.26

require (
	github.com/chromedp/chromedp v0.23.0
	github.com/coder/websocket v1.8.15
	github.com/dillgo/ws v0.0.0
	github.com/gorilla/websocket v1.5.3
	github.com/klauspost/compress v1.20.4
	golang.org/x/net v0.58.0
)

require (
	github.com/chromedp/cdproto v0.159.0 // indirect
	github.com/go-json-experiment/json v0.0.0-20260213210345-44df1a37e875 // indirect
	golang.org/x/text v0.41.0 // indirect
)

replace github.com/dillgo/ws => ../
