package main

// defaultTags are extra build tags for the peer binaries.
const defaultTags = ""
