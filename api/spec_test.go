package api

import (
	"bytes"
	"io"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/go-chi/chi/v5"
	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	v3 "github.com/pb33f/libopenapi/datamodel/high/v3"
)

// The spec is checked with github.com/pb33f/libopenapi and its
// validator: libopenapi models OpenAPI 3.1 natively (kin-openapi only
// gained 3.1 support in 2026 and still models 3.0 first), and the
// validator checks a document against the OpenAPI 3.1 meta-schema and
// validates HTTP responses against it, which the table test uses.

// specModel parses and builds openapi.yaml once per test binary.
var specModel = sync.OnceValues(func() (*v3.Document, error) {
	doc, err := libopenapi.NewDocument(OpenAPI)
	if err != nil {
		return nil, err
	}
	m, err := doc.BuildV3Model()
	if err != nil {
		return nil, err
	}
	return &m.Model, nil
})

var specValidator = sync.OnceValues(func() (validator.Validator, error) {
	doc, err := libopenapi.NewDocument(OpenAPI)
	if err != nil {
		return nil, err
	}
	v, errs := validator.NewValidator(doc)
	if len(errs) > 0 {
		return nil, errs[0]
	}
	return v, nil
})

// validateSpec reports every problem the validator finds in a document.
func validateSpec(t *testing.T, spec []byte) []string {
	t.Helper()
	doc, err := libopenapi.NewDocument(spec)
	if err != nil {
		return []string{err.Error()}
	}
	if _, err := doc.BuildV3Model(); err != nil {
		return []string{err.Error()}
	}
	v, errs := validator.NewValidator(doc)
	if len(errs) > 0 {
		return []string{errs[0].Error()}
	}
	ok, verrs := v.ValidateDocument()
	var out []string
	for _, e := range verrs {
		msg := e.Message + ": " + e.Reason
		for _, se := range e.SchemaValidationErrors {
			msg += " [" + se.FieldPath + " " + se.KeywordLocation + ": " + se.Reason + "]"
		}
		out = append(out, msg)
	}
	if !ok && len(out) == 0 {
		out = append(out, "invalid, without details")
	}
	return out
}

func TestSpecIsValidOpenAPI31(t *testing.T) {
	if !bytes.HasPrefix(OpenAPI, []byte("openapi: 3.1.")) {
		t.Fatalf("openapi.yaml does not declare OpenAPI 3.1")
	}
	for _, p := range validateSpec(t, OpenAPI) {
		t.Error(p)
	}
	// The check has teeth: a spec with a broken response object fails.
	broken := bytes.Replace(OpenAPI, []byte(`"204": {description: Revoked.}`), []byte(`"204": {summary: 7}`), 1)
	if bytes.Equal(broken, OpenAPI) {
		t.Fatal("the mutation found nothing to change")
	}
	if len(validateSpec(t, broken)) == 0 {
		t.Error("a spec with an invalid response object validated")
	}
}

// specOperations returns "METHOD /path" → operation for every operation.
func specOperations(t *testing.T) map[string]*v3.Operation {
	t.Helper()
	m, err := specModel()
	if err != nil {
		t.Fatal(err)
	}
	ops := map[string]*v3.Operation{}
	for path, item := range m.Paths.PathItems.FromOldest() {
		for method, op := range item.GetOperations().FromOldest() {
			ops[strings.ToUpper(method)+" "+path] = op
		}
	}
	return ops
}

// TestSpecCoversRoutes walks the chi routes: every route must be in the
// spec, and every spec operation must be a route.
func TestSpecCoversRoutes(t *testing.T) {
	env := newEnv(t)
	routes := map[string]bool{}
	err := chi.Walk(env.srv.Handler().(chi.Routes), func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		routes[method+" "+route] = true
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(routes) != len(env.srv.routes) {
		t.Errorf("chi walks %d routes, the route table has %d", len(routes), len(env.srv.routes))
	}
	ops := specOperations(t)
	for _, r := range sortedKeys(routes) {
		if ops[r] == nil {
			t.Errorf("route %s is missing from openapi.yaml", r)
		}
	}
	for _, op := range sortedKeys(ops) {
		if !routes[op] {
			t.Errorf("openapi.yaml documents %s, which is no route", op)
		}
	}
}

// TestSpecRolesMatchRoutes checks that each operation's x-roles,
// security and x-partner-scope say what the route enforces.
func TestSpecRolesMatchRoutes(t *testing.T) {
	env := newEnv(t)
	ops := specOperations(t)
	for _, rt := range env.srv.routes {
		name := rt.method + " " + rt.pattern
		op := ops[name]
		if op == nil {
			continue // TestSpecCoversRoutes reports it
		}
		var roles []string
		if n, ok := op.Extensions.Get("x-roles"); !ok || n.Decode(&roles) != nil {
			t.Errorf("%s: no x-roles list", name)
			continue
		}
		want := slices.Clone(rt.access.roles)
		slices.Sort(want)
		slices.Sort(roles)
		if !slices.Equal(roles, want) {
			t.Errorf("%s: x-roles %v, the route allows %v", name, roles, want)
		}
		public := op.Security != nil && len(op.Security) == 0
		if public != rt.access.public() {
			t.Errorf("%s: spec public=%v (security: []), route public=%v", name, public, rt.access.public())
		}
		scope := ""
		if n, ok := op.Extensions.Get("x-partner-scope"); ok {
			_ = n.Decode(&scope)
		}
		wantOwn := rt.access.owner && slices.Contains(rt.access.roles, "partner")
		if (scope == "own") != wantOwn {
			t.Errorf("%s: x-partner-scope %q, route limits partners to their own: %v", name, scope, wantOwn)
		}
		// Every protected operation documents its 401 and 403.
		if !rt.access.public() {
			for _, code := range []string{"401", "403"} {
				if _, ok := op.Responses.Codes.Get(code); !ok {
					t.Errorf("%s: no %s response", name, code)
				}
			}
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestSpecValidatorCatchesDrift shows the response check of the table
// test has teeth: a body off its schema, or an undocumented status, fails.
func TestSpecValidatorCatchesDrift(t *testing.T) {
	v, err := specValidator()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		path   string
		status int
		ct     string
		body   string
		ok     bool
	}{
		{"documented", "/healthz", 200, "application/json", `{"status":"ok"}`, true},
		{"missing required field", "/healthz", 200, "application/json", `{"state":"ok"}`, false},
		{"undocumented status", "/healthz", 418, "application/json", `{"status":"ok"}`, false},
		{"problem without errors", "/readyz", 503, ProblemContentType, `{"type":"x","title":"t","status":503}`, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, "http://127.0.0.1:8080"+tc.path, nil)
			resp := &http.Response{StatusCode: tc.status, Header: http.Header{"Content-Type": {tc.ct}},
				Body: io.NopCloser(strings.NewReader(tc.body)), Request: req}
			if ok, errs := v.ValidateHttpResponse(req, resp); ok != tc.ok {
				t.Errorf("valid = %v (%v), want %v", ok, errs, tc.ok)
			}
		})
	}
}
