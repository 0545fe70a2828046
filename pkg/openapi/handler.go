package openapi

import (
	"io/fs"
	"net/http"
	"strings"

	"github.com/swaggest/swgui"
	"github.com/swaggest/swgui/v5/static"
	"github.com/swaggest/swgui/v5emb"
)

// JSONHandler returns a handler serving the document as JSON. The YAML is
// converted here, once; an error means the embedded document is broken.
func JSONHandler() (http.Handler, error) {
	data, err := JSON()
	if err != nil {
		return nil, err
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		w.Write(data) //nolint:errcheck // the client went away; nothing to do
	}), nil
}

// DocsHandler returns the documentation page: Swagger UI at docsPath,
// rendering the document found at specURL, with its scripts, styles and icons
// served from the binary at docsPath + "/<file>". Requests for a file that
// does not exist go to notFound.
func DocsHandler(docsPath, specURL string, notFound http.Handler) http.Handler {
	ui := v5emb.NewHandlerWithConfig(swgui.Config{
		Title:       "authsvc API",
		SwaggerJSON: specURL,
		BasePath:    docsPath,
		SettingsUI: map[string]string{
			"defaultModelsExpandDepth": "1", // show the schemas section
			"persistAuthorization":     "false",
		},
	})
	prefix := strings.TrimSuffix(docsPath, "/") + "/"
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if asset, isAsset := strings.CutPrefix(r.URL.Path, prefix); isAsset && !hasAsset(asset) {
			notFound.ServeHTTP(w, r)
			return
		}
		ui.ServeHTTP(w, r)
	})
}

// hasAsset reports whether the embedded Swagger UI has the file, stored as
// is or gzipped (the file server decompresses for clients that need it).
func hasAsset(name string) bool {
	if name == "" || strings.Contains(name, "/") {
		return false
	}
	for _, candidate := range []string{name, name + ".gz"} {
		if info, err := fs.Stat(static.FS, candidate); err == nil && !info.IsDir() {
			return true
		}
	}
	return false
}
