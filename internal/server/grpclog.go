package server

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"google.golang.org/grpc/grpclog"
)

// UseLoggerForGRPC sends what gRPC and the gateway runtime log about
// themselves (transport errors, a client gone mid-stream) to log, in the
// configured format, instead of their own stderr logger. Their errors are
// almost always a client's doing (a broken pipe), so they log as warnings;
// their info lines as debug. Call it once, before any gRPC activity: gRPC
// reads its logger without a lock.
func UseLoggerForGRPC(log *slog.Logger) {
	grpclog.SetLoggerV2(grpcLogger{log.With("component", "grpc")})
}

type grpcLogger struct{ log *slog.Logger }

func (g grpcLogger) out(level slog.Level, msg string) {
	g.log.Log(context.Background(), level, strings.TrimSpace(msg))
}

func (g grpcLogger) Info(args ...any)   { g.out(slog.LevelDebug, fmt.Sprint(args...)) }
func (g grpcLogger) Infoln(args ...any) { g.out(slog.LevelDebug, fmt.Sprintln(args...)) }
func (g grpcLogger) Infof(format string, args ...any) {
	g.out(slog.LevelDebug, fmt.Sprintf(format, args...))
}
func (g grpcLogger) Warning(args ...any)   { g.out(slog.LevelWarn, fmt.Sprint(args...)) }
func (g grpcLogger) Warningln(args ...any) { g.out(slog.LevelWarn, fmt.Sprintln(args...)) }
func (g grpcLogger) Warningf(format string, args ...any) {
	g.out(slog.LevelWarn, fmt.Sprintf(format, args...))
}
func (g grpcLogger) Error(args ...any)   { g.out(slog.LevelWarn, fmt.Sprint(args...)) }
func (g grpcLogger) Errorln(args ...any) { g.out(slog.LevelWarn, fmt.Sprintln(args...)) }
func (g grpcLogger) Errorf(format string, args ...any) {
	g.out(slog.LevelWarn, fmt.Sprintf(format, args...))
}
func (g grpcLogger) Fatal(args ...any)   { g.out(slog.LevelError, fmt.Sprint(args...)); os.Exit(1) }
func (g grpcLogger) Fatalln(args ...any) { g.out(slog.LevelError, fmt.Sprintln(args...)); os.Exit(1) }
func (g grpcLogger) Fatalf(format string, args ...any) {
	g.out(slog.LevelError, fmt.Sprintf(format, args...))
	os.Exit(1)
}

// V reports whether verbosity level l is logged: gRPC's chatty levels
// only when debug logging is on.
func (g grpcLogger) V(l int) bool {
	return l <= 0 || g.log.Enabled(context.Background(), slog.LevelDebug)
}
