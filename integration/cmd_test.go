package integration

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	workspace "github.com/elevo/workspace-sdk-go"
	"github.com/elevo/workspace-sdk-go/workspacetest"
)

// The Cmd tests run in both server modes: over process.detach (full) and
// over the run fallback (base, as upstream).

func TestCmdRunOutputCombined(t *testing.T) {
	eachMode(t, func(t *testing.T, srv *workspacetest.Server, c *workspace.Client) {
		ctx := ctxFor(t)
		_, sb := newSandbox(t, c, nil)

		require.NoError(t, c.Process.Command(ctx, sb.ID, "true").Run())

		out, err := c.Process.Command(ctx, sb.ID, "echo", "hello", "world").Output()
		require.NoError(t, err)
		assert.Equal(t, "hello world\n", string(out))

		out, err = c.Process.Command(ctx, sb.ID, "sh", "-c", "echo out; echo err >&2").CombinedOutput()
		require.NoError(t, err)
		assert.ElementsMatch(t, []string{"out", "err"}, strings.Fields(string(out)))

		var so, se bytes.Buffer
		cmd := c.Process.Command(ctx, sb.ID, "sh", "-c", "echo $GREETING from $(pwd); echo oops >&2")
		cmd.Env = map[string]string{"GREETING": "hi"}
		cmd.Dir = "/tmp"
		cmd.Stdout, cmd.Stderr = &so, &se
		require.NoError(t, cmd.Start())
		require.NoError(t, cmd.Wait())
		assert.Equal(t, "hi from /tmp\n", so.String())
		assert.Equal(t, "oops\n", se.String())
		if strings.HasSuffix(t.Name(), "full") {
			assert.NotNil(t, cmd.Process)
		} else {
			assert.Nil(t, cmd.Process)
		}
	})
}

func TestCmdExitError(t *testing.T) {
	eachMode(t, func(t *testing.T, srv *workspacetest.Server, c *workspace.Client) {
		ctx := ctxFor(t)
		_, sb := newSandbox(t, c, nil)
		out, err := c.Process.Command(ctx, sb.ID, "sh", "-c", "echo partial; echo bad news >&2; exit 3").Output()
		var ee *workspace.ExitError
		require.ErrorAs(t, err, &ee)
		assert.Equal(t, 3, ee.ExitCode)
		assert.Equal(t, "bad news\n", ee.Stderr)
		assert.Equal(t, "partial\n", string(out))

		cmd := c.Process.Command(ctx, sb.ID, "true")
		require.NoError(t, cmd.Run())
		assert.Error(t, cmd.Run(), "a Cmd cannot be reused")
		assert.Error(t, c.Process.Command(ctx, sb.ID, "true").Wait(), "Wait before Start")
	})
}

func TestCmdStdinStreamed(t *testing.T) {
	eachMode(t, func(t *testing.T, srv *workspacetest.Server, c *workspace.Client) {
		ctx := ctxFor(t)
		_, sb := newSandbox(t, c, nil)
		const lines = 1000000
		pr, pw := io.Pipe()
		go func() {
			// Generated as it is read: nothing holds the whole input.
			var buf []byte
			for i := 1; i <= lines; i++ {
				buf = strconv.AppendInt(buf, int64(i), 10)
				buf = append(buf, '\n')
				if len(buf) > 32<<10 || i == lines {
					if _, err := pw.Write(buf); err != nil {
						return
					}
					buf = buf[:0]
				}
			}
			pw.Close()
		}()
		defer pr.Close()
		cmd := c.Process.Command(ctx, sb.ID, "cat")
		cmd.Stdin = pr
		out, err := cmd.Output()
		if strings.HasSuffix(t.Name(), "base") {
			// Upstream takes no stdin at all.
			require.ErrorIs(t, err, workspace.ErrUnsupported)
			return
		}
		require.NoError(t, err)
		var want bytes.Buffer
		for i := 1; i <= lines; i++ {
			fmt.Fprintf(&want, "%d\n", i)
		}
		require.Equal(t, want.Len(), len(out))
		assert.True(t, bytes.Equal(want.Bytes(), out), "the output is identical to the input")
	})
}

func TestCmdCancelKillsRemoteGroup(t *testing.T) {
	eachMode(t, func(t *testing.T, srv *workspacetest.Server, c *workspace.Client) {
		ctx := ctxFor(t)
		_, sb := newSandbox(t, c, nil)
		cctx, cancel := context.WithCancel(ctx)
		defer cancel()
		// The child records its pid, then the group sleeps.
		cmd := c.Process.Command(cctx, sb.ID, "sh", "-c", "sleep 600 & echo $! > /tmp/child; wait")
		require.NoError(t, cmd.Start())
		var child string
		eventually(t, "the child to start", func() bool {
			res, err := c.Process.Run(ctx, sb.ID, "cat", &workspace.RunCommandOptions{Args: []string{"/tmp/child"}})
			require.NoError(t, err)
			child = strings.TrimSpace(res.Stdout)
			return res.ExitCode == 0 && child != ""
		})
		cancel()
		err := cmd.Wait()
		require.Error(t, err)
		assert.True(t, errors.Is(err, context.Canceled), "%v", err)
		eventually(t, "the remote group to die", func() bool {
			res, err := c.Process.Run(ctx, sb.ID, "kill", &workspace.RunCommandOptions{Args: []string{"-0", child}})
			require.NoError(t, err)
			return res.ExitCode != 0
		})
	})
}

func TestCmdTimeout(t *testing.T) {
	eachMode(t, func(t *testing.T, srv *workspacetest.Server, c *workspace.Client) {
		ctx := ctxFor(t)
		_, sb := newSandbox(t, c, nil)
		cmd := c.Process.Command(ctx, sb.ID, "sleep", "600")
		cmd.Timeout = 200e6
		err := cmd.Run()
		assert.ErrorIs(t, err, workspace.ErrProcessTimeout)
	})
}
