//go:build !windows

package server

import (
	"bufio"
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"testing"
)

// The hand-written escaping of run output must decode to what
// encoding/json makes of the same bytes (invalid UTF-8 as U+FFFD).
func TestWriteEscapedTextMatchesEncodingJSON(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	cases := [][]byte{nil, []byte("plain"), []byte("\"\\\n\r\t\x00\x1f\x7f"), []byte("\xff\xfe ok \xe2\x80\xa8 \xe2\x80\xa9 é 日本"), []byte("\xe2\x80")}
	for range 2000 {
		b := make([]byte, rng.IntN(64))
		for i := range b {
			b[i] = byte(rng.IntN(256))
		}
		cases = append(cases, b)
	}
	for _, b := range cases {
		var buf bytes.Buffer
		w := bufio.NewWriter(&buf)
		writeOutputString(w, b, false)
		w.Flush()
		var got string
		if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
			t.Fatalf("%q: invalid JSON %s: %v", b, buf.Bytes(), err)
		}
		want, _ := json.Marshal(string(b))
		var wantS string
		json.Unmarshal(want, &wantS) //nolint:errcheck // encoding/json's own output
		if got != wantS {
			t.Fatalf("%q: got %q, encoding/json %q", b, got, wantS)
		}
	}
}
