// Package demotest drives the demo page of "ws serve" in headless
// Chromium. It is a module of its own so that chromedp stays out of the
// library's and the tool's dependencies; it builds the tool from ../.
//
//	cd cmd/ws/demotest && go test ./...
package demotest
