//go:build race

package ws

// raceOn scales the hub's load tests down under the race detector.
const raceOn = true
