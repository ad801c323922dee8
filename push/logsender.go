package push

import (
	"context"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
)

// LogSender is the Sender used when no push credentials are configured: it
// logs each notification and reports success, so the rest of the gateway
// works with zero set-up. It delivers nothing. The device token is
// redacted; the custom data is logged in full, so that a developer can
// play the app by hand (`tryst token open-verification`): what the
// gateway puts there is sealed to the app's key, useless to a log reader.
type LogSender struct {
	log *slog.Logger
	n   atomic.Uint64
}

// NewLogSender returns a LogSender writing to logger (nil: slog.Default()).
func NewLogSender(logger *slog.Logger) *LogSender {
	if logger == nil {
		logger = slog.Default()
	}
	return &LogSender{log: logger}
}

// Provider returns "log", the metrics label.
func (s *LogSender) Provider() string { return "log" }

// Send logs n and returns a fake message id.
func (s *LogSender) Send(ctx context.Context, n *Notification) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", ContextError("log", err)
	}
	id := "log-" + strconv.FormatUint(s.n.Add(1), 10)
	s.log.LogAttrs(ctx, slog.LevelInfo, "push (log only, not delivered)",
		slog.String("id", id),
		slog.String("platform", n.Token.Platform().String()),
		slog.String("app", n.App),
		slog.String("env", n.Environment.String()),
		slog.String("token", n.Token.Redacted()),
		slog.String("kind", n.Kind.String()),
		slog.String("priority", n.Priority.Effective(n.Kind).String()),
		slog.Any("data", dataAttrs(n.Data)),
	)
	return id, nil
}

// LogSenders returns wildcard routes for both platforms served by one
// LogSender, ready for NewDispatcher.
func LogSenders(logger *slog.Logger) map[Route]Sender {
	s := NewLogSender(logger)
	return map[Route]Sender{{Platform: APNs}: s, {Platform: FCM}: s}
}

// dataAttrs renders data as a log group with its keys in order.
func dataAttrs(data map[string]string) slog.Value {
	attrs := make([]slog.Attr, 0, len(data))
	for k, v := range data {
		attrs = append(attrs, slog.String(k, v))
	}
	slices.SortFunc(attrs, func(a, b slog.Attr) int { return strings.Compare(a.Key, b.Key) })
	return slog.GroupValue(attrs...)
}

