package web_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/trystgw/tryst/web"
)

func get(t *testing.T, h http.Handler, path string) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	return rec
}

func TestHandlerServesPage(t *testing.T) {
	t.Parallel()
	h := web.Handler()
	tests := []struct {
		path, contentType string
	}{
		{"/", "text/html"},
		{"/demo.js", "text/javascript"},
		{"/qrcode.js", "text/javascript"},
		{"/demo.css", "text/css"},
	}
	for _, tt := range tests {
		rec := get(t, h, tt.path)
		if rec.Code != http.StatusOK {
			t.Errorf("GET %s = %d, want 200", tt.path, rec.Code)
			continue
		}
		if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, tt.contentType) {
			t.Errorf("GET %s Content-Type = %q, want %s", tt.path, ct, tt.contentType)
		}
		for _, hdr := range []string{"Content-Security-Policy", "X-Content-Type-Options", "Referrer-Policy"} {
			if rec.Header().Get(hdr) == "" {
				t.Errorf("GET %s has no %s", tt.path, hdr)
			}
		}
	}
}

// TestPageReferencesOnlyOwnFiles keeps the page free of CDNs and inline
// scripts: everything it loads is embedded beside it.
func TestPageReferencesOnlyOwnFiles(t *testing.T) {
	t.Parallel()
	h := web.Handler()
	page, _ := io.ReadAll(get(t, h, "/").Body)
	refs := regexp.MustCompile(`(?:src|href)="([^"#]+)"`).FindAllStringSubmatch(string(page), -1)
	if len(refs) < 3 {
		t.Fatalf("page references %d files, want its script, the QR encoder and the stylesheet", len(refs))
	}
	for _, m := range refs {
		ref := m[1]
		if strings.HasPrefix(ref, "data:") {
			continue
		}
		if strings.Contains(ref, "//") {
			t.Errorf("page loads %q from elsewhere", ref)
			continue
		}
		if rec := get(t, h, "/"+ref); rec.Code != http.StatusOK {
			t.Errorf("page references %q, which answers %d", ref, rec.Code)
		}
	}
	if regexp.MustCompile(`<script>|<script [^>]*>[^<]`).Match(page) {
		t.Error("page has an inline script, which its Content-Security-Policy forbids")
	}
}
