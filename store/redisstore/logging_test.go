package redisstore_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/trystgw/tryst/store/redisstore"
)

// TestRouteLibraryLogs makes go-redis log (its pool fails to dial a
// closed loopback port) and checks the line arrives as structured JSON
// through slog instead of go-redis's plain log.
func TestRouteLibraryLogs(t *testing.T) {
	var out lockedBuffer
	redisstore.RouteLibraryLogs(slog.New(slog.NewJSONHandler(&out, nil)))
	t.Cleanup(func() { redisstore.RouteLibraryLogs(slog.New(slog.DiscardHandler)) })
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1})
	defer client.Close()
	if err := client.Ping(t.Context()).Err(); err == nil {
		t.Fatal("Ping to a closed port succeeded")
	}
	if out.Len() == 0 {
		t.Fatal("go-redis logged nothing for a failed dial")
	}
	line, _, _ := bytes.Cut(out.Bytes(), []byte("\n"))
	var entry map[string]any
	if err := json.Unmarshal(line, &entry); err != nil {
		t.Fatalf("go-redis log line is not JSON: %q", line)
	}
	if entry["component"] != "go-redis" || entry["level"] != "WARN" {
		t.Errorf("entry = %v, want component go-redis at WARN", entry)
	}
}

// lockedBuffer is a bytes.Buffer safe for the writer goroutines of slog
// and the test reading it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Len()
}

func (l *lockedBuffer) Bytes() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return bytes.Clone(l.b.Bytes())
}
