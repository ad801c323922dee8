package handlers_test

import (
	"net/http"
	"testing"

	"github.com/trystgw/tryst/api"
)

func TestMSC4388Exchange(t *testing.T) {
	f := newFixture(t, options{})
	rec := f.do(t, http.MethodGet, msc4388Base, "")
	if rec.Code != http.StatusOK || !decodeBody[api.RendezvousDiscovery](t, rec).CreateAvailable {
		t.Fatalf("discovery = %d %s, want create_available", rec.Code, rec.Body)
	}
	rec = f.do(t, http.MethodPost, msc4388Base, `{"data":"hello"}`, "Content-Type", "application/json")
	if rec.Code != http.StatusOK {
		t.Fatalf("POST = %d %s", rec.Code, rec.Body)
	}
	created := decodeBody[api.RendezvousCreatedJSON](t, rec)
	if created.ID == "" || created.SequenceToken == "" || created.ExpiresInMs != 300000 {
		t.Fatalf("POST body = %+v, want id, sequence_token and expires_in_ms", created)
	}
	path := msc4388Base + "/" + created.ID

	got := decodeBody[api.RendezvousSession](t, f.do(t, http.MethodGet, path, ""))
	if got.Data != "hello" || got.SequenceToken != created.SequenceToken {
		t.Errorf("GET = %+v, want hello with token %s", got, created.SequenceToken)
	}

	put := `{"data":"reply","sequence_token":"` + created.SequenceToken + `"}`
	rec = f.do(t, http.MethodPut, path, put)
	updated := decodeBody[api.RendezvousUpdated](t, rec)
	if rec.Code != http.StatusOK || updated.SequenceToken == created.SequenceToken {
		t.Fatalf("PUT = %d %+v, want 200 and a new token", rec.Code, updated)
	}
	// Retry after a lost response: 200 with the same token.
	rec = f.do(t, http.MethodPut, path, put)
	if rec.Code != http.StatusOK || decodeBody[api.RendezvousUpdated](t, rec).SequenceToken != updated.SequenceToken {
		t.Errorf("retried PUT = %d %s, want 200 with token %s", rec.Code, rec.Body, updated.SequenceToken)
	}
	// A stale token with other data conflicts.
	checkError(t, "stale PUT", f.do(t, http.MethodPut, path, `{"data":"other","sequence_token":"`+created.SequenceToken+`"}`),
		http.StatusConflict, api.CodeConcurrentWrite)

	rec = f.do(t, http.MethodDelete, path, "")
	if rec.Code != http.StatusOK || rec.Body.String() != "{}\n" {
		t.Errorf("DELETE = %d %q, want 200 {}", rec.Code, rec.Body)
	}
	checkError(t, "GET after DELETE", f.do(t, http.MethodGet, path, ""), http.StatusNotFound, api.CodeNotFound)
}

func TestMSC4388BadInput(t *testing.T) {
	f := newFixture(t, options{})
	rec := f.do(t, http.MethodPost, msc4388Base, `{"data":"x"}`)
	created := decodeBody[api.RendezvousCreatedJSON](t, rec)
	path := msc4388Base + "/" + created.ID
	tok := created.SequenceToken
	tests := []struct {
		name, method, path, body string
		hdr                      []string
		status                   int
		code                     string
	}{
		{"post without data", http.MethodPost, msc4388Base, `{}`, nil, 400, api.CodeMissingParam},
		{"post with data of the wrong type", http.MethodPost, msc4388Base, `{"data":5}`, nil, 400, api.CodeInvalidParam},
		{"post with broken JSON", http.MethodPost, msc4388Base, `{"data":`, nil, 400, api.CodeInvalidParam},
		{"post with raw control characters", http.MethodPost, msc4388Base, "{\"data\":\"\x00\x01\"}", nil, 400, api.CodeInvalidParam},
		{"put without token", http.MethodPut, path, `{"data":"y"}`, nil, 400, api.CodeMissingParam},
		{"put without data", http.MethodPut, path, `{"sequence_token":"` + tok + `"}`, nil, 400, api.CodeMissingParam},
		{"put stale", http.MethodPut, path, `{"data":"y","sequence_token":"old-1"}`, nil, 409, api.CodeConcurrentWrite},
		{"navigation", http.MethodGet, path, "", []string{"Sec-Fetch-Mode", "navigate"}, 403, api.CodeForbidden},
		{"document", http.MethodGet, path, "", []string{"Sec-Fetch-Dest", "document"}, 403, api.CodeForbidden},
		{"bad wait_ms", http.MethodGet, path + "?wait_ms=-1", "", nil, 400, api.CodeInvalidParam},
		{"unknown id", http.MethodGet, msc4388Base + "/AAAAAAAAAAAAAAAAAAAAAAAA", "", nil, 404, api.CodeNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkError(t, tt.name, f.do(t, tt.method, tt.path, tt.body, tt.hdr...), tt.status, tt.code)
			got := decodeBody[api.RendezvousSession](t, f.do(t, http.MethodGet, path, ""))
			if got.Data != "x" || got.SequenceToken != tok {
				t.Errorf("after %s the session is %+v, want it unchanged", tt.name, got)
			}
		})
	}
	if n := f.rdv.Stats(t.Context()).Live; n != 1 {
		t.Errorf("live sessions after refused creations = %d, want 1", n)
	}
	checkError(t, "data over max bytes", f.do(t, http.MethodPost, msc4388Base, `{"data":"`+repeat('a', 4097)+`"}`), 413, api.CodeTooLarge)
}

func repeat(c byte, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = c
	}
	return string(b)
}
