//go:build race

package main

// raceEnabled builds the sparcd under test with the race detector too.
const raceEnabled = true
