package scripts_test

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

// maxFuncLines is the longest a function may be, from its func line to
// its closing brace, outside tests and fakes (STYLE.md: small functions).
const maxFuncLines = 60

// TestFunctionLength checks every function of the gateway's own code.
// Tests and the <pkg>test packages (fakes, conformance suites) are left
// out.
func TestFunctionLength(t *testing.T) {
	long, err := longFunctions("..", maxFuncLines)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range long {
		t.Errorf("%s: over %d lines; split it along its steps", f, maxFuncLines)
	}
}

// longFunctions returns "file:line name (n lines)" for each function
// over max lines in the Go files under root.
func longFunctions(root string, max int) ([]string, error) {
	var long []string
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if skipDir(path, d.Name()) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Body == nil {
				continue
			}
			start, end := fset.Position(fn.Pos()), fset.Position(fn.End())
			if n := end.Line - start.Line + 1; n > max {
				long = append(long, fmt.Sprintf("%s:%d %s (%d lines)", path, start.Line, fn.Name.Name, n))
			}
		}
		return nil
	})
	return long, err
}

// skipDir leaves out hidden directories, dependencies, test data and the
// <pkg>test packages.
func skipDir(path, name string) bool {
	if path == ".." {
		return false
	}
	return strings.HasPrefix(name, ".") || name == "node_modules" || name == "testdata" || strings.HasSuffix(name, "test")
}

// TestFunctionLengthCatchesLong checks the checker on a planted function.
func TestFunctionLengthCatchesLong(t *testing.T) {
	dir := writeModule(t, map[string]string{
		"a/a.go":           "package a\n\nfunc long() {\n" + strings.Repeat("\t_ = 1\n", 59) + "}\n\nfunc short() {}\n",
		"a/atest/fake.go":  "package atest\n\nfunc long() {\n" + strings.Repeat("\t_ = 1\n", 70) + "}\n",
		"a/a_test.go":      "package a\n\nfunc longTest() {\n" + strings.Repeat("\t_ = 1\n", 70) + "}\n",
		"b/exactly60/b.go": "package b\n\nfunc ok() {\n" + strings.Repeat("\t_ = 1\n", 58) + "}\n",
	})
	long, err := longFunctions(dir, maxFuncLines)
	if err != nil {
		t.Fatal(err)
	}
	if len(long) != 1 || !strings.Contains(long[0], "a.go:3 long (61 lines)") {
		t.Errorf("longFunctions = %q, want only a.go's long (61 lines)", long)
	}
}
