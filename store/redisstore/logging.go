package redisstore

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/redis/go-redis/v9"
)

// RouteLibraryLogs sends go-redis's own log lines (reconnects, pool
// errors) to logger as warnings, so every line the gateway writes is
// structured. go-redis keeps its logger in a package variable: the last
// call wins, for every client of the process.
func RouteLibraryLogs(logger *slog.Logger) {
	redis.SetLogger(slogPrintf{logger})
}

// slogPrintf adapts a slog.Logger to go-redis's Printf-style logger.
type slogPrintf struct{ log *slog.Logger }

func (l slogPrintf) Printf(ctx context.Context, format string, v ...any) {
	msg := strings.TrimSpace(fmt.Sprintf(format, v...))
	if !strings.HasPrefix(msg, "redis:") {
		msg = "redis: " + msg
	}
	l.log.WarnContext(ctx, msg, "component", "go-redis")
}
