package nfsserver

import (
	"context"
	"fmt"
	"log/slog"

	nfs "github.com/willscott/go-nfs"
)

// logAdapter routes go-nfs's process-wide logger to slog. go-nfs logs
// routine conditions (a stat of a missing file, a closed connection) as
// errors, so everything goes out at debug level.
type logAdapter struct {
	l     *slog.Logger
	level nfs.LogLevel
}

func newLogAdapter(l *slog.Logger) *logAdapter {
	return &logAdapter{l: l, level: nfs.DebugLevel}
}

func (a *logAdapter) on(lv nfs.LogLevel) bool {
	return lv <= a.level && a.l.Enabled(context.Background(), slog.LevelDebug)
}

func (a *logAdapter) print(lv nfs.LogLevel, args []any) {
	if a.on(lv) {
		a.l.Debug("go-nfs: " + fmt.Sprint(args...))
	}
}

func (a *logAdapter) printf(lv nfs.LogLevel, f string, args []any) {
	if a.on(lv) {
		a.l.Debug("go-nfs: " + fmt.Sprintf(f, args...))
	}
}

func (a *logAdapter) SetLevel(level nfs.LogLevel) { a.level = level }
func (a *logAdapter) GetLevel() nfs.LogLevel      { return a.level }
func (a *logAdapter) ParseLevel(level string) (nfs.LogLevel, error) {
	return (&nfs.DefaultLogger{}).ParseLevel(level)
}

func (a *logAdapter) Panic(args ...any) { a.print(nfs.PanicLevel, args) }
func (a *logAdapter) Fatal(args ...any) { a.print(nfs.FatalLevel, args) }
func (a *logAdapter) Error(args ...any) { a.print(nfs.ErrorLevel, args) }
func (a *logAdapter) Warn(args ...any)  { a.print(nfs.WarnLevel, args) }
func (a *logAdapter) Info(args ...any)  { a.print(nfs.InfoLevel, args) }
func (a *logAdapter) Debug(args ...any) { a.print(nfs.DebugLevel, args) }
func (a *logAdapter) Trace(args ...any) { a.print(nfs.TraceLevel, args) }
func (a *logAdapter) Print(args ...any) { a.print(nfs.InfoLevel, args) }

func (a *logAdapter) Panicf(f string, args ...any) { a.printf(nfs.PanicLevel, f, args) }
func (a *logAdapter) Fatalf(f string, args ...any) { a.printf(nfs.FatalLevel, f, args) }
func (a *logAdapter) Errorf(f string, args ...any) { a.printf(nfs.ErrorLevel, f, args) }
func (a *logAdapter) Warnf(f string, args ...any)  { a.printf(nfs.WarnLevel, f, args) }
func (a *logAdapter) Infof(f string, args ...any)  { a.printf(nfs.InfoLevel, f, args) }
func (a *logAdapter) Debugf(f string, args ...any) { a.printf(nfs.DebugLevel, f, args) }
func (a *logAdapter) Tracef(f string, args ...any) { a.printf(nfs.TraceLevel, f, args) }
func (a *logAdapter) Printf(f string, args ...any) { a.printf(nfs.InfoLevel, f, args) }
