package telemetry

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel"
)

// RouteLibraryLogs sends the log lines of libraries that do not write through the standard log
// package (which main routes to slog) to logger: go-redis (its own stderr logger by default) and
// the OpenTelemetry SDK's errors (failed exports). Both libraries only offer a process-wide
// setting, so the composition root calls this once; nothing else sets them.
func RouteLibraryLogs(logger *slog.Logger) {
	redis.SetLogger(redisLogger{logger})
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		logger.Warn("opentelemetry", "component", "opentelemetry", "err", err)
	}))
}

type redisLogger struct{ l *slog.Logger }

func (r redisLogger) Printf(ctx context.Context, format string, v ...any) {
	r.l.WarnContext(ctx, fmt.Sprintf(format, v...), "component", "redis")
}
