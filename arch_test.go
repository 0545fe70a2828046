package main

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/authsvc/authsvc/"

// imports maps every Go file under root (test files included) to its
// project imports, as paths relative to the module ("pkg/store").
func projectImports(t *testing.T, root string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") {
			return err
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if rel, ok := strings.CutPrefix(p, module); ok {
				out[path] = append(out[path], rel)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestArchitecture checks the import rules of docs/architecture.md and of the
// ports design, so that a change that breaks them fails CI.
func TestArchitecture(t *testing.T) {
	files := projectImports(t, "pkg")
	for path, imps := range projectImports(t, "cmd") {
		files[path] = imps
	}
	dir := func(path string) string { return filepath.ToSlash(filepath.Dir(path)) }
	for path, imps := range files {
		d := dir(path)
		for _, imp := range imps {
			switch {
			case imp == "pkg/store" && d != "pkg/store" && d != "pkg/store/storetest" && d != "cmd":
				t.Errorf("%s imports pkg/store: only store and cmd may (tests use storetest)", path)
			case imp == "cmd" && !(d == "pkg/httpapi" && strings.HasSuffix(path, "_test.go")):
				t.Errorf("%s imports cmd: only the end-to-end harness may", path)
			case d == "pkg/authsvc" && !strings.HasSuffix(path, "_test.go"):
				t.Errorf("%s imports %s: the domain imports no project package", path, imp)
			case d == "pkg/config" && !strings.HasSuffix(path, "_test.go") && imp != "pkg/dburl" && imp != "pkg/proxyaddr" && imp != "pkg/authsvc":
				t.Errorf("%s imports %s: config is a leaf (only the standard-library packages dburl, proxyaddr, authsvc)", path, imp)
			case imp == "pkg/config" && d != "cmd" && d != "pkg/config" &&
				!(d == "pkg/httpapi" && strings.HasSuffix(path, "_test.go")):
				t.Errorf("%s imports pkg/config: nothing but cmd does", path)
			case (d == "pkg/auth" || d == "pkg/credits") && !strings.HasSuffix(path, "_test.go") && imp != "pkg/authsvc":
				t.Errorf("%s imports %s: use cases depend on the pkg/authsvc ports only", path, imp)
			}
		}
	}
}

// TestNoErrorTextMatching: errors are matched by code, sentinel or driver
// code, never by their text.
func TestNoErrorTextMatching(t *testing.T) {
	err := filepath.WalkDir("pkg", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if strings.Contains(string(b), "Contains(err."+"Error()") {
			t.Errorf("%s matches an error by its text", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
