package main

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/authsvc/authsvc/"

// allowedImports is the map of docs/architecture.md as a test: for every
// package, the project packages its non-test files may import. A package
// missing here fails the test, so a new one is placed on the map on purpose.
var allowedImports = map[string][]string{
	".": {"cmd"},
	// the composition root: it wires every adapter and use case
	"cmd": {"pkg/oidcprovider", "pkg/passkeys", "pkg/federation", "pkg/account", "pkg/apikey", "pkg/apikeys", "pkg/config", "pkg/credits", "pkg/domain", "pkg/httpapi", "pkg/logship",
		"pkg/mail", "pkg/metrics", "pkg/oidcclients", "pkg/password", "pkg/ratelimit", "pkg/seal", "pkg/signingkeys", "pkg/store",
		"pkg/token", "pkg/userimport",
		"pkg/pages", "templates"},

	// the domain and the standard-library-only helpers: leaves
	"pkg/domain":    {},
	"pkg/dburl":     {},
	"pkg/proxyaddr": {},
	"pkg/logship":   {},
	"pkg/ratelimit": {},
	"pkg/openapi":   {},
	"sql":           {},
	"templates":     {},

	// use cases: the domain's types and ports only
	"pkg/account":    {"pkg/domain"},
	"pkg/credits":    {"pkg/domain"},
	"pkg/userimport": {"pkg/domain"},
	"pkg/apikeys":    {"pkg/domain", "pkg/apikey"},
	// the API key format: standard library only
	"pkg/apikey": {},
	// signing keys drive the JWT adapter's keyring and its key generation,
	// and open the keys they store with the sealer
	"pkg/signingkeys": {"pkg/domain", "pkg/seal", "pkg/token"},

	// adapters: the domain (whose ports they implement) and their own helpers
	"pkg/seal":         {"pkg/domain"},
	"pkg/password":     {"pkg/domain"},
	"pkg/token":        {"pkg/domain", "pkg/seal"},
	"pkg/mail":         {"pkg/domain", "templates"},
	"pkg/store":        {"pkg/domain", "pkg/dburl", "sql"},
	"pkg/metrics":      {"pkg/domain"},
	"pkg/oidcclients":  {"pkg/domain"},
	"pkg/pages":        {"pkg/domain"},
	"pkg/oidcprovider": {"pkg/domain", "pkg/token"},
	"pkg/passkeys":     {"pkg/domain"},
	"pkg/federation":   {"pkg/domain"},
	"pkg/config":       {"pkg/domain", "pkg/dburl", "pkg/proxyaddr"},
	// (apikey: it tells an API key from a JWT by its shape, before any lookup)
	"pkg/httpapi": {"pkg/apikey", "pkg/domain", "pkg/openapi", "pkg/proxyaddr", "pkg/ratelimit"},

	// test kits
	"pkg/store/storetest":     {"pkg/dburl", "pkg/store"},
	"pkg/mail/mailtest":       {"pkg/mail"},
	"pkg/metrics/metricstest": {},
	"internal/testkit":        {"pkg/account", "pkg/domain"}, // and chromedp (the browser tests)
	"internal/scalebench":     {},
	"deploy/kubernetes":       {},
}

// projectImports maps every Go file of the module (test files included) to
// its project imports, as paths relative to the module ("pkg/store").
func projectImports(t *testing.T) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != "." && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" || d.Name() == "bin" || d.Name() == "dist") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		out[path] = []string{}
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

// TestArchitecture checks every file's imports against allowedImports. Test
// files may also import the test kits and the packages whose behaviour they
// test end to end, with two exceptions: only the end-to-end harness of
// pkg/httpapi, pkg/oidcprovider and pkg/federation import cmd, and only store, cmd and their tests reach the
// store (everyone else uses storetest).
func TestArchitecture(t *testing.T) {
	for path, imps := range projectImports(t) {
		dir := filepath.ToSlash(filepath.Dir(path))
		allowed, known := allowedImports[dir]
		if !known {
			t.Errorf("%s: package %s is not on the map (allowedImports, docs/architecture.md)", path, dir)
			continue
		}
		test := strings.HasSuffix(path, "_test.go")
		for _, imp := range imps {
			switch {
			case imp == dir || slices.Contains(allowed, imp):
			case !test:
				t.Errorf("%s imports %s: %s may import only %v", path, imp, dir, allowed)
			case imp == "cmd" && dir != "pkg/httpapi" && dir != "pkg/oidcprovider" && dir != "pkg/federation":
				t.Errorf("%s imports cmd: only the end-to-end harnesses (pkg/httpapi, pkg/oidcprovider, pkg/federation) may", path)
			case imp == "pkg/store" && dir != "pkg/store" && dir != "cmd":
				t.Errorf("%s imports pkg/store: tests outside store and cmd use storetest", path)
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

// TestNoCitationsOutsideTheRepository: comments and docs name only files of
// this repository, so a reader can follow every reference.
func TestNoCitationsOutsideTheRepository(t *testing.T) {
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && strings.HasPrefix(d.Name(), ".") && path != "." {
			return filepath.SkipDir
		}
		if d.IsDir() || !(strings.HasSuffix(path, ".go") || strings.HasSuffix(path, ".md") || strings.HasSuffix(path, ".yaml")) {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		// (spelled in two parts, so that this file does not name them itself)
		for _, ref := range []string{"CONTRACT" + " §", "ARCHITECTURE" + ".md", "PERFORMANCE" + ".md", "auth_service" + ".md", "shared" + "/design"} {
			if strings.Contains(string(b), ref) {
				t.Errorf("%s cites %q, a document outside the repository", path, ref)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
