//go:build !windows

package server

import (
	"bufio"
	"encoding/base64"
	"net/http"
	"strconv"
	"unicode/utf8"

	"github.com/elevo/workspace-sdk-go/internal/wire"
)

// The answer of a run (and of a timed-out run) carries the output, up to
// MaxRunOutputBytes per stream. It is written straight to the connection
// from the runtime's buffers: the output is held once, never copied into a
// string or an encoding buffer.

// writeRunResult writes {"exit_code","stdout","stderr",
// "stdout_truncated"?,"stderr_truncated"?,"encoding"?} with status 200.
func (s *Server) writeRunResult(w http.ResponseWriter, res *ExecResult, b64 bool) {
	s.writeRunOutput(w, http.StatusOK, `"exit_code":`+strconv.Itoa(res.ExitCode), res, b64)
}

// writeRunTimeout writes the 504/4002 error envelope of a run that timed
// out, with its partial output in "stdout" and "stderr".
func (s *Server) writeRunTimeout(w http.ResponseWriter, res *ExecResult, b64 bool) {
	head := `"code":` + strconv.Itoa(int(wire.CodeProcessTimeout)) + `,"message":"Process timed out"`
	if res == nil {
		res = &ExecResult{}
	}
	s.writeRunOutput(w, wire.Status(wire.CodeProcessTimeout), head, res, b64)
}

func (s *Server) writeRunOutput(w http.ResponseWriter, status int, head string, res *ExecResult, b64 bool) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	bw := bufio.NewWriterSize(w, 32<<10)
	bw.WriteString("{" + head + `,"stdout":`)
	writeOutputString(bw, res.Stdout, b64)
	bw.WriteString(`,"stderr":`)
	writeOutputString(bw, res.Stderr, b64)
	outTrunc, errTrunc := res.StdoutTruncated, res.StderrTruncated
	if outTrunc {
		bw.WriteString(`,"stdout_truncated":true`)
	}
	if errTrunc {
		bw.WriteString(`,"stderr_truncated":true`)
	}
	if b64 {
		bw.WriteString(`,"encoding":"base64"`)
	}
	bw.WriteString("}\n")
	bw.Flush() //nolint:errcheck // the client went away
}

// writeOutputString writes b as a JSON string: base64 when b64, else text
// escaped as encoding/json does without HTML escaping (invalid UTF-8
// becomes U+FFFD).
func writeOutputString(w *bufio.Writer, b []byte, b64 bool) {
	w.WriteByte('"')
	if b64 {
		enc := base64.NewEncoder(base64.StdEncoding, w)
		enc.Write(b) //nolint:errcheck // bufio keeps the first error
		enc.Close()
	} else {
		writeEscapedText(w, b)
	}
	w.WriteByte('"')
}

const hexDigits = "0123456789abcdef"

// writeEscapedText writes the JSON string escaping of b (without quotes).
func writeEscapedText(w *bufio.Writer, b []byte) {
	start := 0
	for i := 0; i < len(b); {
		c := b[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			w.Write(b[start:i])
			switch c {
			case '"', '\\':
				w.WriteByte('\\')
				w.WriteByte(c)
			case '\n':
				w.WriteString(`\n`)
			case '\r':
				w.WriteString(`\r`)
			case '\t':
				w.WriteString(`\t`)
			default:
				w.WriteString(`\u00`)
				w.WriteByte(hexDigits[c>>4])
				w.WriteByte(hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			w.Write(b[start:i])
			w.WriteString(`\ufffd`)
		case r == '\u2028' || r == '\u2029':
			w.Write(b[start:i])
			w.WriteString(`\u202`)
			w.WriteByte(hexDigits[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	w.Write(b[start:])
}
