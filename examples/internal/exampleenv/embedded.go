package exampleenv

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/elevo/workspace-sdk-go/internal/server"
)

// startEmbedded starts the reference server in this process on
// 127.0.0.1:0 with its data in dir. Its log shows warnings and errors only,
// unless WORKSPACE_EXAMPLE_DEBUG is set.
func startEmbedded(ctx context.Context, dir string) (url string, stop func() error, err error) {
	level := slog.LevelWarn
	if os.Getenv("WORKSPACE_EXAMPLE_DEBUG") != "" {
		level = slog.LevelDebug
	}
	srv, err := server.New(server.Config{
		DataDir: dir,
		Logger:  slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})),
	})
	if err != nil {
		return "", nil, err
	}
	var lc net.ListenConfig
	l, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, errors.Join(err, srv.Close())
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan error, 1)
	go func() { done <- hs.Serve(l) }()
	stop = func() error {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err := hs.Shutdown(sctx)
		if errors.Is(err, context.DeadlineExceeded) {
			err = hs.Close()
		}
		if serr := <-done; !errors.Is(serr, http.ErrServerClosed) {
			err = errors.Join(err, serr)
		}
		return errors.Join(err, srv.Close())
	}
	return "http://" + l.Addr().String(), stop, nil
}
