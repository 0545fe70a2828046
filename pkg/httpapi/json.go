package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/authsvc/authsvc/pkg/authsvc"
)

// maxBodyBytes is the largest request body read; beyond it the answer is 413.
const maxBodyBytes = 64 << 10

// decodeJSON reads r's body into dst: JSON only (415 otherwise), at most
// maxBodyBytes (413), no unknown fields, exactly one value, numbers kept as
// json.Number. Bad JSON is a 422 in the FastAPI shape.
func decodeJSON(w http.ResponseWriter, r *http.Request, dst any) error {
	if !isJSON(r.Header.Get("Content-Type")) {
		return statusError(http.StatusUnsupportedMediaType, "unsupported_media_type",
			"Content-Type must be application/json")
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	dec.UseNumber()
	if err := dec.Decode(dst); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		var maxErr *http.MaxBytesError
		if errors.As(err, &maxErr) {
			return tooLarge()
		}
		return authsvc.ValidationError(authsvc.FieldError{Loc: []string{"body"},
			Msg: "unexpected data after the JSON value", Type: "value_error.jsondecode"})
	}
	return nil
}

func isJSON(contentType string) bool {
	mediaType, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	return mediaType == "application/json" || strings.HasSuffix(mediaType, "+json")
}

func tooLarge() error {
	return statusError(http.StatusRequestEntityTooLarge, "payload_too_large",
		fmt.Sprintf("Request body exceeds %d bytes", maxBodyBytes))
}

// jsonError turns a decoding error into a 413 or a 422 naming the field.
func jsonError(err error) error {
	var (
		maxErr    *http.MaxBytesError
		syntaxErr *json.SyntaxError
		typeErr   *json.UnmarshalTypeError
	)
	field := func(msg, typ string, loc ...string) error {
		return authsvc.ValidationError(authsvc.FieldError{Loc: append([]string{"body"}, loc...), Msg: msg, Type: typ})
	}
	switch {
	case errors.As(err, &maxErr):
		return tooLarge()
	case errors.Is(err, io.EOF):
		return field("field required", "value_error.missing")
	case errors.As(err, &syntaxErr), errors.Is(err, io.ErrUnexpectedEOF):
		return field("invalid JSON", "value_error.jsondecode")
	case errors.As(err, &typeErr):
		if typeErr.Field == "" {
			return field("value is not a valid object", "type_error.dict")
		}
		return field(fmt.Sprintf("value is not a valid %s", typeName(typeErr.Type.Kind().String())),
			"type_error."+typeName(typeErr.Type.Kind().String()), strings.Split(typeErr.Field, ".")...)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return field("extra fields not permitted", "value_error.extra", name)
	default:
		return field("invalid JSON", "value_error.jsondecode")
	}
}

func typeName(kind string) string {
	switch kind {
	case "string":
		return "str"
	case "int", "int64", "int32", "uint", "uint64":
		return "integer"
	case "bool":
		return "bool"
	case "float64", "float32":
		return "float"
	default:
		return kind
	}
}

// writeJSON writes v with the given status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		http.Error(w, `{"detail":"Internal server error","code":"internal"}`, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes()) //nolint:errcheck // the client went away; nothing to do
}
