package handlers_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/trystgw/tryst/api"
)

// TestQueueDelete: wrong or missing credentials delete nothing; the right
// ones delete the queue, after which every request with them fails like
// an unknown queue's, and a long-poll waiting on it ends at once.
func TestQueueDelete(t *testing.T) {
	f := newDeliveryFixture(t)
	q := f.newQueue(t, "")
	path := "/v1/queues/" + q.ID
	for _, tt := range []struct{ name, path, secret string }{
		{"without secret", path, ""},
		{"with a wrong secret", path, "nope"},
		{"an unknown queue", "/v1/queues/AAAAAAAAAAAAAAAAAAAAAA", q.Secret},
		{"a malformed id", "/v1/queues/not%20an%20id", q.Secret},
	} {
		checkError(t, "delete "+tt.name, f.do(t, http.MethodDelete, tt.path, "", tt.secret), http.StatusUnauthorized, api.CodeUnknownQueue)
	}
	if rec := f.do(t, http.MethodGet, path+"/messages", "", q.Secret); rec.Code != http.StatusOK {
		t.Fatalf("the queue did not survive refused deletes: fetch = %d %s", rec.Code, rec.Body)
	}

	polled := make(chan int, 1)
	go func() {
		polled <- f.do(t, http.MethodGet, path+"/messages?wait_ms=20000", "", q.Secret).Code
	}()
	time.Sleep(100 * time.Millisecond) // let the long-poll start waiting
	if rec := f.do(t, http.MethodDelete, path, "", q.Secret); rec.Code != http.StatusNoContent {
		t.Fatalf("DELETE %s = %d %s", path, rec.Code, rec.Body)
	}
	select {
	case code := <-polled:
		if code != http.StatusUnauthorized {
			t.Errorf("the waiting long-poll ended with %d, want 401", code)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the waiting long-poll did not end within 5 s of the delete")
	}
	for _, tt := range []struct{ name, method, path string }{
		{"fetch", http.MethodGet, path + "/messages"},
		{"ack", http.MethodDelete, path + "/messages?through=1"},
		{"delete again", http.MethodDelete, path},
	} {
		checkError(t, tt.name+" after the delete", f.do(t, tt.method, tt.path, "", q.Secret), http.StatusUnauthorized, api.CodeUnknownQueue)
	}
}
