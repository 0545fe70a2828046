// Package openapi holds authsvc's OpenAPI 3.0.3 document and what serves it:
// the document is authored as YAML (openapi.yaml), embedded in the binary,
// converted once to JSON (keeping the authored order of paths and keys) for
// GET /openapi.json, and rendered at GET /docs by an embedded Swagger UI
// (github.com/swaggest/swgui) that loads nothing from the network.
package openapi

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"math"
	"strconv"

	"github.com/getkin/kin-openapi/openapi3"
	"go.yaml.in/yaml/v3"
)

//go:embed openapi.yaml
var documentYAML []byte

// YAML returns a copy of the document as authored.
func YAML() []byte { return bytes.Clone(documentYAML) }

// JSON returns the document converted to JSON, keys in the authored order.
func JSON() ([]byte, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(documentYAML, &root); err != nil {
		return nil, fmt.Errorf("parse openapi.yaml: %w", err)
	}
	var buf bytes.Buffer
	if err := writeJSON(&buf, &root); err != nil {
		return nil, fmt.Errorf("convert openapi.yaml to json: %w", err)
	}
	return buf.Bytes(), nil
}

// Load parses the JSON form of the document, resolves its references and
// validates it against the OpenAPI 3 rules.
func Load(ctx context.Context) (*openapi3.T, error) {
	data, err := JSON()
	if err != nil {
		return nil, err
	}
	loader := openapi3.NewLoader()
	loader.Context = ctx
	doc, err := loader.LoadFromData(data)
	if err != nil {
		return nil, fmt.Errorf("load openapi document: %w", err)
	}
	if err := doc.Validate(ctx); err != nil {
		return nil, fmt.Errorf("validate openapi document: %w", err)
	}
	return doc, nil
}

// writeJSON writes a YAML node as JSON. Mappings keep their key order.
func writeJSON(buf *bytes.Buffer, n *yaml.Node) error {
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) != 1 {
			return fmt.Errorf("line %d: want one document", n.Line)
		}
		return writeJSON(buf, n.Content[0])
	case yaml.AliasNode:
		return writeJSON(buf, n.Alias)
	case yaml.MappingNode:
		return writeMapping(buf, n)
	case yaml.SequenceNode:
		buf.WriteByte('[')
		for i, item := range n.Content {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := writeJSON(buf, item); err != nil {
				return err
			}
		}
		buf.WriteByte(']')
		return nil
	case yaml.ScalarNode:
		return writeScalar(buf, n)
	default:
		return fmt.Errorf("line %d: unsupported YAML node kind %d", n.Line, n.Kind)
	}
}

func writeMapping(buf *bytes.Buffer, n *yaml.Node) error {
	buf.WriteByte('{')
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, value := n.Content[i], n.Content[i+1]
		if key.Kind != yaml.ScalarNode || key.Tag == "!!merge" {
			return fmt.Errorf("line %d: only plain scalar keys are supported", key.Line)
		}
		if i > 0 {
			buf.WriteByte(',')
		}
		writeString(buf, key.Value)
		buf.WriteByte(':')
		if err := writeJSON(buf, value); err != nil {
			return err
		}
	}
	buf.WriteByte('}')
	return nil
}

func writeScalar(buf *bytes.Buffer, n *yaml.Node) error {
	switch n.ShortTag() {
	case "!!null":
		buf.WriteString("null")
	case "!!bool":
		var b bool
		if err := n.Decode(&b); err != nil {
			return fmt.Errorf("line %d: %w", n.Line, err)
		}
		buf.WriteString(strconv.FormatBool(b))
	case "!!int", "!!float":
		var f float64
		if err := n.Decode(&f); err != nil {
			return fmt.Errorf("line %d: %w", n.Line, err)
		}
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return fmt.Errorf("line %d: %q has no JSON form", n.Line, n.Value)
		}
		if json.Valid([]byte(n.Value)) {
			buf.WriteString(n.Value) // keep the authored text: 0.01 stays 0.01
		} else {
			buf.WriteString(strconv.FormatFloat(f, 'g', -1, 64))
		}
	default:
		writeString(buf, n.Value)
	}
	return nil
}

func writeString(buf *bytes.Buffer, s string) {
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	enc.Encode(s)               //nolint:errcheck // a string always encodes
	buf.Truncate(buf.Len() - 1) // drop the encoder's newline
}
