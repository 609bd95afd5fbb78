package sandbox_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/sluicehq/sluice/conformance/sandbox"
)

// BenchmarkUsersPage measures one 1000-user page of a million-user
// tenant: in process (generation and encoding) and over loopback HTTP.
func BenchmarkUsersPage(b *testing.B) {
	const path = "/api/v1/users?limit=1000&created_from=2023-06-01T00:00:00Z"
	b.Run("handler", func(b *testing.B) {
		h := sandbox.New(sandbox.Config{Users: 1_000_000}).Handler()
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.Header.Set("Authorization", "Bearer "+sandbox.DefaultAPIKey)
		b.ReportAllocs()
		for b.Loop() {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				b.Fatalf("status %d", rec.Code)
			}
			b.SetBytes(int64(rec.Body.Len()))
		}
	})
	b.Run("http", func(b *testing.B) {
		_, c := start(b, sandbox.Config{Users: 1_000_000})
		req, _ := http.NewRequest(http.MethodGet, c.base+path, nil)
		req.Header.Set("Authorization", "Bearer "+sandbox.DefaultAPIKey)
		b.ReportAllocs()
		for b.Loop() {
			resp, err := c.hc.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			n, err := io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if err != nil || resp.StatusCode != http.StatusOK {
				b.Fatalf("status %d, %v", resp.StatusCode, err)
			}
			b.SetBytes(n)
		}
	})
}
