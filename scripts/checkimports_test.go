// Package scripts_test checks the repository's scripts.
package scripts_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// writeModule writes a module named like the gateway's, with files given
// as path -> Go source.
func writeModule(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	files["go.mod"] = "module github.com/trystgw/tryst\n\ngo 1.26\n"
	for name, src := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// checkImports runs scripts/check-imports.sh on the module in dir.
func checkImports(t *testing.T, dir string) (string, error) {
	t.Helper()
	cmd := exec.Command("./check-imports.sh", dir)
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestCheckImportsTransitive plants violations that only the dependency
// graph shows, one per rule, and checks that the script fails on each,
// naming the package that brings the forbidden one in, and passes on the
// same module without them.
func TestCheckImportsTransitive(t *testing.T) {
	const helperHTTP = "package helper\n\nimport _ \"net/http\"\n"
	tests := []struct {
		name  string
		files map[string]string
		want  string // "" means the check passes
	}{
		{"clean", map[string]string{
			"rendezvous/r.go": "package rendezvous\n\nimport _ \"github.com/trystgw/tryst/helper\"\n",
			"helper/h.go":     "package helper\n\nimport _ \"strings\"\n",
		}, ""},
		{"domain reaches net/http through a helper", map[string]string{
			"rendezvous/r.go": "package rendezvous\n\nimport _ \"github.com/trystgw/tryst/helper\"\n",
			"helper/h.go":     helperHTTP,
		}, "net/http (imported by: github.com/trystgw/tryst/helper)"},
		{"mls reaches a gateway package through another", map[string]string{
			"mls/m.go":       "package mls\n\nimport _ \"github.com/trystgw/tryst/mls/inner\"\n",
			"mls/inner/i.go": "package inner\n\nimport _ \"github.com/trystgw/tryst/push\"\n",
			"push/p.go":      "package push\n",
		}, "mls must depend on no other gateway package"},
		{"conformance reaches the server through api", map[string]string{
			"conformance/c.go": "package conformance\n\nimport _ \"github.com/trystgw/tryst/api\"\n",
			"api/a.go":         "package api\n\nimport _ \"github.com/trystgw/tryst/handlers\"\n",
			"handlers/h.go":    "package handlers\n",
		}, "github.com/trystgw/tryst/handlers (imported by: github.com/trystgw/tryst/api)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := checkImports(t, writeModule(t, tt.files))
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("check-imports on a clean module failed: %v\n%s", err, out)
			case tt.want != "" && err == nil:
				t.Errorf("check-imports passed a planted violation, want a failure naming %q\n%s", tt.want, out)
			case tt.want != "" && !strings.Contains(out, tt.want):
				t.Errorf("check-imports output lacks %q:\n%s", tt.want, out)
			}
		})
	}
}
