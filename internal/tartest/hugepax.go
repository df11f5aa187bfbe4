// Package tartest builds the hostile tar archives that the tests of
// archive extraction (internal/tarfs and the files.archive integration
// tests) share, where archive/tar will not write them.
package tartest

import (
	"archive/tar"
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// HugePAX returns a tar whose first entry is a PAX extended header of
// 2 MiB, followed by a regular file "p" holding "x". archive/tar refuses
// to write a PAX header that large, so the first entry is written as a
// regular file "pax" and its type patched to 'x' (with the header checksum
// recomputed).
func HugePAX() []byte {
	record := "comment=" + strings.Repeat("z", 2<<20) + "\n"
	record = strconv.Itoa(len(record)+8) + " " + record
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range []struct{ name, body string }{{"pax", record}, {"p", "x"}} {
		h := &tar.Header{Name: e.name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(e.body)), ModTime: time.Unix(1700000000, 0)}
		// Writes to a bytes.Buffer of well-formed entries cannot fail.
		if err := tw.WriteHeader(h); err != nil {
			panic(err)
		}
		if _, err := tw.Write([]byte(e.body)); err != nil {
			panic(err)
		}
	}
	if err := tw.Close(); err != nil {
		panic(err)
	}
	b := buf.Bytes()
	b[156] = tar.TypeXHeader
	copy(b[148:156], "        ") // the checksum counts its own field as spaces
	sum := 0
	for _, c := range b[:512] {
		sum += int(c)
	}
	copy(b[148:156], fmt.Sprintf("%06o\x00 ", sum))
	return b
}
