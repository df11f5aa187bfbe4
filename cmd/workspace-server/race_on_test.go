//go:build race && linux

package main

// memFactor scales the memory bounds of tests: the race detector's shadow
// memory multiplies what the server process holds.
const memFactor = 4
