package workspace

import (
	"bytes"
	"encoding/base64"
	"io"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A server with run/stream but without process.detach: Cmd sends the
// buffered stdin with run/stream and feeds the output as it comes.
func TestCmdFallbackRunStreamSendsBufferedStdin(t *testing.T) {
	f := newFake(t, []string{"binary", "process.stream", "process.stdin"})
	f.script(reply{
		header: map[string]string{"Content-Type": "text/event-stream"},
		body: "id: 1\nevent: start\ndata: {\"type\":\"start\",\"pid\":7}\n\n" +
			"id: 2\nevent: stdout\ndata: {\"type\":\"stdout\",\"data\":\"" + base64.StdEncoding.EncodeToString([]byte("got it\n")) + "\"}\n\n" +
			"id: 3\nevent: exit\ndata: {\"type\":\"exit\",\"code\":0}\n\n",
	})
	cmd := f.c.Process.Command(ctxT(t), "sbx", "cat", "-n")
	cmd.Stdin = strings.NewReader("input\x00bytes")
	out, err := cmd.Output()
	require.NoError(t, err)
	assert.Equal(t, "got it\n", string(out))
	assert.Nil(t, cmd.Process)

	r := f.only()
	assert.Equal(t, "GET", r.Method)
	assert.Equal(t, "/sandboxes/sbx/process/run/stream", r.Path)
	q, err := url.ParseQuery(r.Query)
	require.NoError(t, err)
	assert.Equal(t, "cat", q.Get("command"))
	assert.Equal(t, `["-n"]`, q.Get("args"))
	assert.Equal(t, base64.StdEncoding.EncodeToString([]byte("input\x00bytes")), q.Get("stdin"))
}

// Stdin beyond MaxBufferedStdin fails before anything is sent.
func TestCmdFallbackStdinBound(t *testing.T) {
	f := newFake(t, []string{"binary", "process.stream", "process.stdin"})
	cmd := f.c.Process.Command(ctxT(t), "sbx", "cat")
	cmd.Stdin = io.LimitReader(zeroReader{}, MaxBufferedStdin+1)
	err := cmd.Run()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "Stdin is over")
	assert.Empty(t, f.requests())
}

// Without process.stream, Cmd uses run and writes the output at the end.
func TestCmdFallbackRun(t *testing.T) {
	f := newFake(t, nil)
	f.ok(`{"exit_code":2,"stdout":"o","stderr":"e"}`)
	var so bytes.Buffer
	cmd := f.c.Process.Command(ctxT(t), "sbx", "false")
	cmd.Stdout = &so
	err := cmd.Run()
	var ee *ExitError
	require.ErrorAs(t, err, &ee)
	assert.Equal(t, 2, ee.ExitCode)
	assert.Equal(t, "e", ee.Stderr)
	assert.Equal(t, "o", so.String())
	assert.Equal(t, "/sandboxes/sbx/process/run", f.only().Path)
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
