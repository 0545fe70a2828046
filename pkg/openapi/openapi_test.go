package openapi

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"go.yaml.in/yaml/v3"
)

func TestDocument(t *testing.T) {
	ctx := context.Background()

	t.Run("the JSON form loads and is a valid OpenAPI 3.0.3 document", func(t *testing.T) {
		doc, err := Load(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if doc.OpenAPI != "3.0.3" {
			t.Fatalf("openapi = %q", doc.OpenAPI)
		}
	})
	t.Run("the JSON form says exactly what the authored YAML says", func(t *testing.T) {
		fromYAML, err := openapi3.NewLoader().LoadFromData(YAML())
		if err != nil {
			t.Fatal(err)
		}
		data, err := JSON()
		if err != nil {
			t.Fatal(err)
		}
		fromJSON, err := openapi3.NewLoader().LoadFromData(data)
		if err != nil {
			t.Fatal(err)
		}
		a, _ := json.Marshal(fromYAML)
		b, _ := json.Marshal(fromJSON)
		if !bytes.Equal(a, b) {
			t.Fatal("the JSON document differs from the YAML it was converted from")
		}
	})
	t.Run("the JSON keeps the authored order of paths", func(t *testing.T) {
		data, err := JSON()
		if err != nil {
			t.Fatal(err)
		}
		first, last := bytes.Index(data, []byte(`"/auth/register"`)), bytes.Index(data, []byte(`"/credits/transactions"`))
		if first < 0 || last < 0 || first > last {
			t.Fatalf("paths out of order: /auth/register at %d, /credits/transactions at %d", first, last)
		}
	})
}

func TestYAMLToJSON(t *testing.T) {
	convert := func(t *testing.T, src string) (string, error) {
		t.Helper()
		var root yaml.Node
		if err := yaml.Unmarshal([]byte(src), &root); err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		err := writeJSON(&buf, &root)
		return buf.String(), err
	}
	cases := []struct{ name, yaml, json string }{
		{"keys keep their order", "b: 1\na: 2\n", `{"b":1,"a":2}`},
		{"numbers keep their text", "x: 0.01\ny: 1000000000\n", `{"x":0.01,"y":1000000000}`},
		{"quoted numbers stay strings", `"200": "200"`, `{"200":"200"}`},
		{"scalars map to JSON types", "n: null\nt: true\ns: text <b>\n", `{"n":null,"t":true,"s":"text <b>"}`},
		{"sequences and flow mappings", "l: [a, {k: v}]\n", `{"l":["a",{"k":"v"}]}`},
		{"aliases are expanded", "a: &x {k: v}\nb: *x\n", `{"a":{"k":"v"},"b":{"k":"v"}}`},
		{"YAML-only number forms become JSON numbers", "h: 0x10\n", `{"h":16}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := convert(t, c.yaml)
			if err != nil {
				t.Fatal(err)
			}
			if got != c.json {
				t.Fatalf("got %s, want %s", got, c.json)
			}
		})
	}
	t.Run("a value with no JSON form is an error", func(t *testing.T) {
		if got, err := convert(t, "x: .inf\n"); err == nil {
			t.Fatalf("converted to %s", got)
		}
	})
}

// externalURL matches an absolute http(s) URL naming a host.
var externalURL = regexp.MustCompile(`(?i)(https?:)?//[a-z0-9][a-z0-9.-]*\.[a-z]{2,}|https?://[a-z0-9]`)

func TestDocsHandler(t *testing.T) {
	notFound := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "none", http.StatusTeapot) })
	h := DocsHandler("/docs", "/openapi.json", notFound)
	get := func(t *testing.T, path string) *httptest.ResponseRecorder {
		t.Helper()
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		return rec
	}
	page := get(t, "/docs")

	t.Run("the page is HTML that reads our document", func(t *testing.T) {
		if page.Code != 200 || !strings.HasPrefix(page.Header().Get("Content-Type"), "text/html") {
			t.Fatalf("got %d %q", page.Code, page.Header().Get("Content-Type"))
		}
		if !strings.Contains(page.Body.String(), `"/openapi.json"`) {
			t.Fatal("the page does not name /openapi.json")
		}
	})
	t.Run("the page names no external URL", func(t *testing.T) {
		for _, bad := range []string{`<script src="https://unpkg.com/x.js">`, `href="//cdn.jsdelivr.net/a.css"`, `http://10.0.0.1/x`} {
			if !externalURL.MatchString(bad) {
				t.Fatalf("the URL check misses %s", bad)
			}
		}
		if m := externalURL.FindAllString(page.Body.String(), -1); len(m) > 0 {
			t.Fatalf("external URLs in the page: %q", m)
		}
	})
	t.Run("every script, style and icon is served from under /docs/", func(t *testing.T) {
		refs := regexp.MustCompile(`(?:src|href)="([^"]*)"`).FindAllStringSubmatch(page.Body.String(), -1)
		if len(refs) < 3 {
			t.Fatalf("only %d asset references in the page", len(refs))
		}
		for _, ref := range refs {
			if !strings.HasPrefix(ref[1], "/docs/") {
				t.Fatalf("asset %q is not under /docs/", ref[1])
			}
			rec := get(t, ref[1])
			if rec.Code != 200 || rec.Body.Len() == 0 {
				t.Fatalf("GET %s = %d (%d bytes)", ref[1], rec.Code, rec.Body.Len())
			}
		}
	})
	t.Run("the scripts are the real Swagger UI", func(t *testing.T) {
		rec := get(t, "/docs/swagger-ui-bundle.js")
		body, _ := io.ReadAll(rec.Body)
		if len(body) < 100_000 || !bytes.Contains(body, []byte("SwaggerUIBundle")) {
			t.Fatalf("swagger-ui-bundle.js is %d bytes", len(body))
		}
	})
	t.Run("an unknown asset goes to the not-found handler", func(t *testing.T) {
		for _, path := range []string{"/docs/nope.js", "/docs/../go.mod", "/docs/"} {
			if rec := get(t, path); rec.Code != http.StatusTeapot {
				t.Fatalf("GET %s = %d", path, rec.Code)
			}
		}
	})
}

func TestJSONHandler(t *testing.T) {
	h, err := JSONHandler()
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/openapi.json", nil))
	if rec.Code != 200 || rec.Header().Get("Content-Type") != "application/json; charset=utf-8" {
		t.Fatalf("got %d %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	want, _ := JSON()
	if !bytes.Equal(rec.Body.Bytes(), want) || !json.Valid(want) {
		t.Fatal("the handler does not serve the JSON document")
	}
}
