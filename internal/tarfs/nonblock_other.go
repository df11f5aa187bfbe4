//go:build !unix

package tarfs

// openNonblock is not needed where FIFOs cannot appear in a tree.
const openNonblock = 0
