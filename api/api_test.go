package api_test

import (
	"go/ast"
	"go/constant"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/trystgw/tryst/api"
)

// TestErrorCodesComplete checks that ErrorCodes lists exactly the Code
// constants declared in the package, so a new code cannot be left out of
// the list openapi.yaml is checked against.
func TestErrorCodesComplete(t *testing.T) {
	declared := codeConstants(t)
	listed := api.ErrorCodes()
	slices.Sort(declared)
	slices.Sort(listed)
	if diff := cmp.Diff(declared, listed); diff != "" {
		t.Errorf("ErrorCodes differs from the Code constants (-declared +listed):\n%s", diff)
	}
}

// codeConstants type-checks the package's non-test files and returns the
// values of its exported constants named Code*.
func codeConstants(t *testing.T) []string {
	t.Helper()
	fset := token.NewFileSet()
	names, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	var files []*ast.File
	for _, name := range names {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	pkg, err := (&types.Config{Importer: importer.Default()}).Check("api", fset, files, nil)
	if err != nil {
		t.Fatal(err)
	}
	var codes []string
	for _, name := range pkg.Scope().Names() {
		c, ok := pkg.Scope().Lookup(name).(*types.Const)
		if ok && c.Exported() && strings.HasPrefix(name, "Code") {
			codes = append(codes, constant.StringVal(c.Val()))
		}
	}
	if len(codes) == 0 {
		t.Fatal("no Code constants found")
	}
	return codes
}
