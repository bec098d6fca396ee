//go:build !dillws

package main

// defaultTags are the build tags the peers need: "dillws" links in the ws
// adapter while the ws package is young.
const defaultTags = ""
