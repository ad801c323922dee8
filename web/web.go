// Package web holds the static demo page, embedded in the binary and served
// at /demo/: two browsers meet through the rendezvous API, which may be on
// another origin (the page's ?api= parameter). It is plain HTML and
// JavaScript with no build step; qrcode.js is a vendored copy of a QR
// encoder (see qrcode.LICENSE). The package depends on nothing of the
// gateway.
package web

import (
	"embed"
	"io/fs"
	"net/http"
)

//go:embed demo
var files embed.FS

// contentSecurityPolicy lets the page run only its own files and talk to
// any http(s) API origin, which is the point of the ?api= parameter.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; " +
	"img-src 'self' data:; connect-src http: https:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// Handler serves the demo page's files; mount it with the prefix stripped.
// It is safe for concurrent use.
func Handler() http.Handler {
	sub, err := fs.Sub(files, "demo")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	return withHeaders(http.FileServerFS(sub))
}

// withHeaders adds the page's security headers. The invite link carries
// the session ID, so no Referer may leak it.
func withHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-cache")
		next.ServeHTTP(w, r)
	})
}
