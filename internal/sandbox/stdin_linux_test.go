//go:build linux

package sandbox

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"
)

// OpenStdin keeps stdin open after the initial bytes: writes arrive in
// order, CloseStdin gives EOF, and writes after it fail.
func TestOpenStdin(t *testing.T) {
	s := startSandbox(t, "", nil)
	ctx := context.Background()
	p, err := s.Start(ctx, ExecRequest{Command: "cat", Stdin: []byte("one\n"), OpenStdin: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range []string{"two\n", "three\n"} {
		if err := p.WriteStdin(ctx, []byte(b)); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.CloseStdin(); err != nil {
		t.Fatal(err)
	}
	if err := p.CloseStdin(); err != nil {
		t.Fatalf("second close: %v", err)
	}
	if err := p.WriteStdin(ctx, []byte("late")); err == nil {
		t.Fatal("a write after CloseStdin succeeded")
	}
	out, _ := io.ReadAll(p.Stdout)
	io.Copy(io.Discard, p.Stderr)
	p.Stdout.Close()
	p.Stderr.Close()
	if code, err := p.Wait(); code != 0 || err != nil || string(out) != "one\ntwo\nthree\n" {
		t.Fatalf("out %q code %d err %v", out, code, err)
	}

	// Without OpenStdin there is nothing to write to.
	q, err := s.Start(ctx, ExecRequest{Command: "true"})
	if err != nil {
		t.Fatal(err)
	}
	if err := q.WriteStdin(ctx, []byte("x")); err == nil {
		t.Fatal("WriteStdin without OpenStdin succeeded")
	}
	io.Copy(io.Discard, q.Stdout)
	io.Copy(io.Discard, q.Stderr)
	q.Stdout.Close()
	q.Stderr.Close()
	q.Wait()
}

// A write to a process that does not read blocks only until ctx ends.
func TestWriteStdinHonoursContext(t *testing.T) {
	s := startSandbox(t, "", nil)
	p, err := s.Start(context.Background(), ExecRequest{Command: "sleep", Args: []string{"600"}, OpenStdin: true})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		p.Kill()
		io.Copy(io.Discard, p.Stdout)
		io.Copy(io.Discard, p.Stderr)
		p.Stdout.Close()
		p.Stderr.Close()
		p.Wait()
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	big := make([]byte, 8<<20) // more than any pipe holds
	if err := p.WriteStdin(ctx, big); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WriteStdin = %v, want the ctx's deadline", err)
	}
	// The deadline is lifted: the next write waits on its own ctx again.
	ctx2, cancel2 := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel2()
	if err := p.WriteStdin(ctx2, []byte("x")); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("second WriteStdin = %v, want its ctx's deadline", err)
	}
}
