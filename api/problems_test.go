package api

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestPanicIsProblem(t *testing.T) {
	env := newEnv(t)
	h := env.srv.recoverer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") }))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/x", nil))
	if rec.Code != 500 || rec.Header().Get("Content-Type") != ProblemContentType || strings.Contains(rec.Body.String(), "boom") {
		t.Errorf("panic answered %d %q %s", rec.Code, rec.Header().Get("Content-Type"), rec.Body)
	}
	if !strings.Contains(env.logs.String(), "boom") {
		t.Errorf("the panic was not logged: %s", env.logs)
	}
}

// A server-side failure is logged with its cause and answered with a
// generic detail.
func TestInternalErrorsAreNotShown(t *testing.T) {
	env := newEnv(t)
	_ = env.db.Close() // every store read now fails
	resp, b := env.do(t, pAdmin, "GET", "/v1/keys", "", nil)
	if resp.StatusCode != 503 {
		t.Fatalf("status %d, want 503 with the store closed; body %s", resp.StatusCode, b)
	}
	p := decodeProblem(t, resp, b)
	if strings.Contains(p.Detail, "badger") || strings.Contains(p.Detail, "store:") {
		t.Errorf("detail leaks the cause: %q", p.Detail)
	}
	if !strings.Contains(env.logs.String(), "database closed") {
		t.Errorf("the cause was not logged: %s", env.logs)
	}
}
