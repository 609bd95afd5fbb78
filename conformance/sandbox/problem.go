package sandbox

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
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
