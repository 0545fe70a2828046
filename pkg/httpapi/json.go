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

	"github.com/authsvc/authsvc/pkg/domain"
)

// maxBodyBytes is the largest request body read; beyond it the answer is 413.
const maxBodyBytes = 64 << 10

// decodeJSON reads r's body into dst: JSON only (415 otherwise), at most
// maxBodyBytes (413), no unknown fields, exactly one value, numbers kept as
// json.Number. Bad JSON is a 422 in the FastAPI shape.
func decodeJSON(w http.ResponseWriter, r *http.Request, dst any) error {
	if !isJSON(r.Header.Get("Content-Type")) {
		return errUnsupportedMedia
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
		return domain.ValidationError(domain.FieldError{Loc: []string{"body"},
			Msg: domain.MsgTrailingJSON, Type: domain.TypeJSONInvalid})
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
		return domain.ValidationError(domain.FieldError{Loc: append([]string{"body"}, loc...), Msg: msg, Type: typ})
	}
	switch {
	case errors.As(err, &maxErr):
		return tooLarge()
	case errors.Is(err, io.EOF):
		return field(domain.MsgFieldRequired, domain.TypeMissing)
	case errors.As(err, &syntaxErr), errors.Is(err, io.ErrUnexpectedEOF):
		return field(domain.MsgInvalidJSON, domain.TypeJSONInvalid)
	case errors.As(err, &typeErr):
		if typeErr.Field == "" {
			return field(domain.MsgNotAnObject, domain.TypeModelAttributesType)
		}
		name, typ := typeName(typeErr.Type.Kind().String())
		return field(fmt.Sprintf("value is not a valid %s", name), typ, strings.Split(typeErr.Field, ".")...)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return field(domain.MsgExtraField, domain.TypeExtraForbidden, name)
	default:
		return field(domain.MsgInvalidJSON, domain.TypeJSONInvalid)
	}
}

// typeName returns the pydantic name of a Go kind and its v2 `type`.
func typeName(kind string) (name, typ string) {
	switch kind {
	case "string":
		return "str", domain.TypeStringType
	case "int", "int64", "int32", "uint", "uint64":
		return "integer", domain.TypeIntType
	case "bool":
		return "bool", domain.TypeBoolType
	case "float64", "float32":
		return "float", domain.TypeFloatType
	default:
		return kind, kind + "_type"
	}
}

// writeJSON writes v with the given status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		buf.Reset()
		json.NewEncoder(&buf).Encode(errorBody{Detail: domain.MsgInternal, Code: domain.ReasonInternal}) //nolint:errcheck // cannot fail
		status = http.StatusInternalServerError
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes()) //nolint:errcheck // the client went away; nothing to do
}
