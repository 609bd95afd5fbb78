package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
)

// decodeBody decodes the JSON body of r into v: an application/json
// (or +json) Content-Type if one is given, exactly one JSON value, no
// field v does not declare. An empty body is allowed only if optional.
// The body is already capped by the route's size limit.
func decodeBody(r *http.Request, v any, optional bool) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return newProblem(http.StatusUnsupportedMediaType, "the request body must be application/json",
				FieldError{Field: "header.Content-Type", Message: "must be application/json, got " + quoteShort(ct)})
		}
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return err // *http.MaxBytesError → 413, or a broken connection
	}
	return decodeJSON(body, v, optional)
}

// decodeJSON is decodeBody's pure part; the fuzz targets call it.
func decodeJSON(body []byte, v any, optional bool) error {
	if len(bytes.TrimSpace(body)) == 0 {
		if optional {
			return nil
		}
		return newProblem(http.StatusBadRequest, "the request body is empty", FieldError{Field: "body", Message: "a JSON object is required"})
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonProblem(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return newProblem(http.StatusBadRequest, "the request body must hold exactly one JSON value",
			FieldError{Field: "body", Message: fmt.Sprintf("unexpected data after the JSON value at offset %d", dec.InputOffset())})
	}
	return nil
}

// jsonProblem turns a decoding error into a 400 naming the field.
func jsonProblem(err error) error {
	var (
		syn *json.SyntaxError
		typ *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &syn):
		return newProblem(http.StatusBadRequest, "the request body is not valid JSON",
			FieldError{Field: "body", Message: fmt.Sprintf("%v (at offset %d)", syn, syn.Offset)})
	case errors.Is(err, io.ErrUnexpectedEOF):
		return newProblem(http.StatusBadRequest, "the request body is not valid JSON", FieldError{Field: "body", Message: "the JSON value is truncated"})
	case errors.As(err, &typ):
		field := "body"
		if typ.Field != "" {
			field = "body." + typ.Field
		}
		return newProblem(http.StatusBadRequest, "a field has the wrong JSON type",
			FieldError{Field: field, Message: "must be " + jsonTypeName(typ.Type.String()) + ", got " + typ.Value})
	}
	// encoding/json reports unknown fields only as text.
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return newProblem(http.StatusBadRequest, "the request body has an unknown field",
			FieldError{Field: "body." + strings.Trim(name, `"`), Message: "unknown field"})
	}
	return newProblem(http.StatusBadRequest, "the request body could not be decoded", FieldError{Field: "body", Message: err.Error()})
}

// jsonTypeName names a Go type the way a JSON client thinks of it.
func jsonTypeName(goType string) string {
	switch {
	case goType == "string", goType == "api.SecretString":
		return "a string"
	case goType == "bool":
		return "a boolean"
	case strings.Contains(goType, "int"), strings.Contains(goType, "float"):
		return "a number"
	case strings.HasPrefix(goType, "[]"):
		return "an array"
	}
	return "an object"
}

func quoteShort(s string) string {
	if len(s) > 60 {
		s = s[:60] + "…"
	}
	return fmt.Sprintf("%q", s)
}

// checked is a request body that checks its own fields.
type checked interface{ validate() error }

// decodeValid decodes a required JSON body into v, then validates it:
// the shared first step of every handler that takes a checked body.
func decodeValid(r *http.Request, v checked) error {
	if err := decodeBody(r, v, false); err != nil {
		return err
	}
	return v.validate()
}
