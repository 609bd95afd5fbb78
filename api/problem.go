package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/manifest"
	"github.com/sluicehq/sluice/store"
)

// ProblemContentType is the media type of every error response.
const ProblemContentType = "application/problem+json"

// problemTypeBase prefixes every problem type URI; the slug after it is
// stable and documented in openapi.yaml.
const problemTypeBase = "https://sluice.dev/problems/"

// Problem is an RFC 9457 problem details object. Errors names the
// offending fields, when there are any.
type Problem struct {
	Type     string       `json:"type"`
	Title    string       `json:"title"`
	Status   int          `json:"status"`
	Detail   string       `json:"detail,omitempty"`
	Instance string       `json:"instance,omitempty"`
	Errors   []FieldError `json:"errors"`
}

// problemSlugs gives each status its problem type slug.
var problemSlugs = map[int]string{
	http.StatusBadRequest:            "bad-request",
	http.StatusUnauthorized:          "unauthenticated",
	http.StatusForbidden:             "forbidden",
	http.StatusNotFound:              "not-found",
	http.StatusMethodNotAllowed:      "method-not-allowed",
	http.StatusConflict:              "conflict",
	http.StatusRequestEntityTooLarge: "body-too-large",
	http.StatusUnsupportedMediaType:  "unsupported-media-type",
	http.StatusUnprocessableEntity:   "validation",
	http.StatusTooManyRequests:       "too-many-requests",
	http.StatusInternalServerError:   "internal",
	http.StatusNotImplemented:        "not-wired",
	http.StatusBadGateway:            "connector-failed",
	http.StatusServiceUnavailable:    "unavailable",
	http.StatusGatewayTimeout:        "connector-timeout",
}

// newProblemBody builds the problem for status.
func newProblemBody(r *http.Request, status int, detail string, fields []FieldError) Problem {
	slug, ok := problemSlugs[status]
	if !ok {
		slug = "error"
	}
	if fields == nil {
		fields = []FieldError{}
	}
	return Problem{
		Type:     problemTypeBase + slug,
		Title:    http.StatusText(status),
		Status:   status,
		Detail:   detail,
		Instance: r.URL.Path,
		Errors:   fields,
	}
}

// writeProblem writes a problem response.
func writeProblem(w http.ResponseWriter, r *http.Request, status int, detail string, fields ...FieldError) {
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="sluice"`)
	}
	writeJSONAs(w, ProblemContentType, status, newProblemBody(r, status, detail, fields))
}

// writeError maps err to a problem and writes it. Server-side failures
// are logged here, at the boundary, and never shown: the client gets a
// generic detail.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	p := classify(err)
	if p.Status >= 500 && p.Status != http.StatusNotImplemented {
		s.log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "status", p.Status, "err", err)
	}
	if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		return // the client went away; nobody reads the answer
	}
	writeProblem(w, r, p.Status, p.Detail, p.Fields...)
}

// classify decides the status, detail and fields of an error. Only
// errors that are the client's to fix carry their message to the
// client. The classifiers run in order and the first that knows the
// error decides: the API's own errors, then the domain packages'
// (domain_errors.go), then store, manifest and engine errors.
func classify(err error) *StatusError {
	for _, c := range []func(error) *StatusError{classifyAPI, classifyDomain, classifyCore} {
		if p := c(err); p != nil {
			return p
		}
	}
	return &StatusError{Status: http.StatusInternalServerError, Detail: "internal error", Err: err}
}

// classifyAPI knows the API's own errors and the body size limit.
func classifyAPI(err error) *StatusError {
	var (
		pe  *StatusError
		ve  *ValidationError
		mbe *http.MaxBytesError
	)
	switch {
	case errors.As(err, &pe):
		return pe
	case errors.As(err, &mbe):
		return newProblem(http.StatusRequestEntityTooLarge, "the request body is larger than the limit", FieldError{Field: "body", Message: "larger than " + byteSize(mbe.Limit)})
	case errors.As(err, &ve):
		return newProblem(http.StatusUnprocessableEntity, "the request has invalid fields", ve.Errors...)
	case errors.Is(err, ErrInvalid):
		return newProblem(http.StatusUnprocessableEntity, err.Error())
	case errors.Is(err, ErrNotFound):
		return newProblem(http.StatusNotFound, "no such resource")
	case errors.Is(err, ErrForbidden):
		return newProblem(http.StatusForbidden, err.Error())
	case errors.Is(err, ErrConflict):
		return newProblem(http.StatusConflict, err.Error())
	case errors.Is(err, ErrNotWired):
		return newProblem(http.StatusNotImplemented, err.Error())
	case errors.Is(err, ErrUnavailable):
		return &StatusError{Status: http.StatusServiceUnavailable, Detail: "the server is shutting down or not ready", Err: err}
	}
	return nil
}

// classifyCore knows the errors of store, manifest and engine, which
// backends pass through.
func classifyCore(err error) *StatusError {
	var (
		sve  *store.ValidationError
		mve  *manifest.ValidationError
		ie   *engine.ImportError
		call *engine.CallError
	)
	switch {
	case errors.As(err, &mve):
		fields := make([]FieldError, len(mve.Problems))
		for i, p := range mve.Problems {
			fields[i] = FieldError{Field: "connector.json#/" + p.Field, Message: p.Message}
		}
		return newProblem(http.StatusUnprocessableEntity, "the manifest is invalid", fields...)
	case errors.As(err, &ie):
		return newProblem(http.StatusUnprocessableEntity, "the module imports a function outside the sandbox",
			FieldError{Field: "module.wasm", Message: ie.Error()})
	case errors.Is(err, engine.ErrInvalidModule):
		return newProblem(http.StatusUnprocessableEntity, "the module is not a loadable Wasm module", FieldError{Field: "module.wasm", Message: err.Error()})
	case errors.As(err, &sve):
		return newProblem(http.StatusUnprocessableEntity, "the request has invalid fields", FieldError{Field: sve.Field, Message: sve.Reason})
	case errors.Is(err, store.ErrNotFound):
		return newProblem(http.StatusNotFound, "no such resource")
	case errors.Is(err, store.ErrExists):
		return newProblem(http.StatusConflict, err.Error())
	case errors.Is(err, store.ErrConflict):
		return newProblem(http.StatusConflict, "a concurrent request changed the same record; retry")
	case errors.Is(err, store.ErrClosed):
		return &StatusError{Status: http.StatusServiceUnavailable, Detail: "the server is shutting down or not ready", Err: err}
	case errors.As(err, &call) && errors.Is(err, engine.ErrDeadline), errors.Is(err, context.DeadlineExceeded):
		return &StatusError{Status: http.StatusGatewayTimeout, Detail: "the connector did not answer in time", Err: err}
	case errors.As(err, &call):
		return &StatusError{Status: http.StatusBadGateway, Detail: "the connector failed: " + call.Error(), Err: err}
	}
	return nil
}

// renameFields rewrites the field of a *store.ValidationError through
// names (store field → API field), so a store refusal names the query or
// path parameter the client sent. Other errors pass through.
func renameFields(err error, names map[string]string) error {
	var sve *store.ValidationError
	if !errors.As(err, &sve) {
		return err
	}
	field, ok := names[sve.Field]
	if !ok {
		field = sve.Field
	}
	return &ValidationError{Errors: []FieldError{{Field: field, Message: sve.Reason}}}
}

func byteSize(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return strconv.FormatInt(n>>20, 10) + " MiB"
	case n >= 1<<10 && n%(1<<10) == 0:
		return strconv.FormatInt(n>>10, 10) + " KiB"
	}
	return strconv.FormatInt(n, 10) + " bytes"
}

// writeJSON writes v as application/json.
func writeJSON(w http.ResponseWriter, status int, v any) {
	writeJSONAs(w, "application/json", status, v)
}

func writeJSONAs(w http.ResponseWriter, contentType string, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil { // only our own response types reach here
		b, status = []byte(`{"type":"`+problemTypeBase+`internal","title":"Internal Server Error","status":500,"errors":[]}`), http.StatusInternalServerError
		contentType = ProblemContentType
	}
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// problemHandler answers every request with one fixed problem (chi's
// NotFound and MethodNotAllowed).
func problemHandler(status int, detail string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { writeProblem(w, r, status, detail) }
}
