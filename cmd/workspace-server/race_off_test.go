//go:build !race && linux

package main

// memFactor scales the memory bounds of tests (1 without the race
// detector).
const memFactor = 1
