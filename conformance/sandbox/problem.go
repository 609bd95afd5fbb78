package sandbox

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// Problem is an RFC 9457 problem document, the body of every error the
// API answers except the OAuth2 token endpoint's (which follows RFC 6749).
// Code is a stable machine-readable extension member.
type Problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail,omitempty"`
	Code   string `json:"code,omitempty"`
}

func writeProblem(w http.ResponseWriter, status int, code, detail string) {
	writeJSONAs(w, status, "application/problem+json", Problem{
		Type:   "about:blank",
		Title:  http.StatusText(status),
		Status: status,
		Detail: detail,
		Code:   code,
	})
}

func writeQueryError(w http.ResponseWriter, err error) {
	code := "invalid_query"
	if errors.Is(err, ErrInvalidCursor) {
		code = "invalid_cursor"
	}
	writeProblem(w, http.StatusBadRequest, code, err.Error())
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	writeJSONAs(w, status, "application/json", v)
}

// writeJSONAs encodes v before writing anything, so a response is either
// whole or a 500, and declares Content-Length so clients can tell a
// truncated body from a complete one.
func writeJSONAs(w http.ResponseWriter, status int, contentType string, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // an API, not a web page: keep "<" readable
	if err := enc.Encode(v); err != nil {
		status, contentType = http.StatusInternalServerError, "application/problem+json"
		buf.Reset()
		buf.WriteString(`{"type":"about:blank","title":"Internal Server Error","status":500,"code":"encode_failed"}` + "\n")
	}
	body := buf.Bytes()
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(body) // the client hung up; nothing left to tell it
}

// decodeStrict reads a write's body: one JSON object, no unknown fields,
// at most maxControlBody bytes. Errors are *FieldError wrapping
// ErrInvalidBody and name the field when there is one.
func decodeStrict(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, maxControlBody))
	dec.DisallowUnknownFields()
	bad := func(field, reason string) error {
		return &FieldError{Err: ErrInvalidBody, Field: field, Reason: reason}
	}
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &te) && te.Field != "":
			return bad(te.Field, "want a JSON "+te.Type.Kind().String()+", got "+te.Value)
		case errors.As(err, &te):
			return bad("(body)", "want one JSON object")
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			name := strings.TrimPrefix(err.Error(), "json: unknown field ")
			if unq, uerr := strconv.Unquote(name); uerr == nil && unq != "" {
				name = unq
			}
			return bad(name, "unknown field")
		}
		return bad("(body)", "not one JSON object: "+err.Error())
	}
	if dec.More() {
		return bad("(body)", "trailing data after the JSON object")
	}
	return nil
}

// writeBodyError answers 400 invalid_body naming the field.
func writeBodyError(w http.ResponseWriter, err error) {
	writeProblem(w, http.StatusBadRequest, "invalid_body", err.Error())
}

// writeWriteError maps the write API's errors to problems.
func writeWriteError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, ErrUnknownUser):
		writeProblem(w, http.StatusNotFound, "not_found", err.Error())
	case errors.Is(err, ErrUnknownGroup):
		writeProblem(w, http.StatusNotFound, "not_found", err.Error())
	case errors.Is(err, ErrNotMember):
		writeProblem(w, http.StatusNotFound, "not_member", err.Error())
	case errors.Is(err, ErrUserDeleted):
		writeProblem(w, http.StatusGone, "gone", err.Error())
	case errors.Is(err, ErrEmailTaken):
		writeProblem(w, http.StatusConflict, "conflict", err.Error())
	case errors.Is(err, ErrTooManyUsers):
		writeProblem(w, http.StatusForbidden, "quota_exceeded", err.Error())
	case errors.Is(err, ErrInvalidUser), errors.Is(err, ErrInvalidBody):
		writeProblem(w, http.StatusBadRequest, "invalid_body", err.Error())
	default:
		writeProblem(w, http.StatusInternalServerError, "internal", err.Error())
	}
}
