package api_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/sluicehq/sluice/api"
	"github.com/sluicehq/sluice/export"
	"github.com/sluicehq/sluice/keyring"
	"github.com/sluicehq/sluice/policy"
	"github.com/sluicehq/sluice/receipt"
)

// worldExporter builds the compliance exporter as `sluice serve` does
// (internal/cli/serve.go wireBackends): redaction decided by the
// tenants' policies, field classes read from the registry's manifests.
func worldExporter(t *testing.T, b *api.RealBackends, pols *policy.Service, logger *slog.Logger) *export.Exporter {
	t.Helper()
	x, err := export.New(export.Config{Store: b.DB, Rules: export.PolicyRules{Store: b.DB, Policies: pols}, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	return x
}

// serveAlso serves the world's backends through one more API server on
// 127.0.0.1, its Config changed by edit (a limit, the base URL): the
// world's keys work there too, it shares their store.
func (w *world) serveAlso(t *testing.T, edit func(*api.Config)) (*api.Server, string) {
	t.Helper()
	cfg := w.cfg
	edit(&cfg)
	srv, err := api.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return srv, ts.URL
}

// do sends one request to the API server at base as principal (with no
// Authorization for api.PNone) and returns the response and its body.
func (w *world) do(t *testing.T, base, principal, method, path, contentType string, body []byte) (*http.Response, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if k := w.keys[principal]; k != "" {
		req.Header.Set("Authorization", "Bearer "+k)
	}
	return api.Send(t, req)
}

// getJSON GETs path of the world's server as principal, wants 200 and
// decodes the answer.
func getJSON[T any](t *testing.T, w *world, principal, path string) T {
	t.Helper()
	resp, b := w.do(t, w.url, principal, http.MethodGet, path, "", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s as %s: %d %s", path, principal, resp.StatusCode, b)
	}
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("GET %s: %v in %s", path, err, b)
	}
	return v
}

// signingKeys fetches the public signing keys as anyone may (GET
// /v1/signing-keys, no key), oldest first, and the set of them a
// verifier trusts: obtained apart from the receipts and bundles it
// verifies, as an auditor obtains them.
func (w *world) signingKeys(t *testing.T) ([]keyring.PublicKey, receipt.KeySet) {
	t.Helper()
	list := getJSON[api.SigningKeyList](t, w, api.PNone, "/v1/signing-keys")
	ks := receipt.KeySet{}
	for _, k := range list.Items {
		if _, err := ks.Add(k.Public); err != nil {
			t.Fatalf("signing key %s: %v", k.ID, err)
		}
	}
	return list.Items, ks
}

// verifyExport checks an export bundle with package export's offline
// verifier against the keys the API lists, and that it is acme's for
// role, with at least one receipt.
func (w *world) verifyExport(t *testing.T, bundle []byte, role string) *export.Report {
	t.Helper()
	_, trusted := w.signingKeys(t)
	rep, err := export.Verify(bundle, trusted)
	if err != nil {
		t.Fatalf("the %s bundle does not verify: %v", role, err)
	}
	if rep.Tenant != "acme" || rep.Role != role || rep.Receipts == 0 {
		t.Fatalf("bundle %+v, want acme's for %s with receipts", rep, role)
	}
	return rep
}
