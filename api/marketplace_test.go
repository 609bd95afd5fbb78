package api_test

import (
	"encoding/json"
	"encoding/xml"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/api"
	"github.com/sluicehq/sluice/conformance"
	"github.com/sluicehq/sluice/conformance/report"
	"github.com/sluicehq/sluice/internal/wasmbuild"
	"github.com/sluicehq/sluice/marketplace"
	"github.com/sluicehq/sluice/registry"
)

// newMarketplace uploads the directory connector 1.0.0 of p1 and builds
// a marketplace service over the real backends, its suite narrowed by
// opts (none: the whole suite against an in-process sandbox).
func newMarketplace(t *testing.T, b *api.RealBackends, opts ...conformance.Option) *marketplace.Service {
	t.Helper()
	if _, err := b.Registry.Upload(t.Context(), "p1", &registry.Bundle{Module: b.Wasm, Manifest: b.Manifest, Runbooks: b.Runbooks}); err != nil {
		t.Fatalf("upload directory 1.0.0: %v", err)
	}
	return marketplaceService(t, b, opts...)
}

// marketplaceService builds the service over the real backends, with the
// shared compile cache.
func marketplaceService(t *testing.T, b *api.RealBackends, opts ...conformance.Option) *marketplace.Service {
	t.Helper()
	root, err := wasmbuild.Root()
	if err != nil {
		t.Fatal(err)
	}
	opts = append([]conformance.Option{conformance.WithCacheDir(filepath.Join(root, "build", "test-cache", "wazero"))}, opts...)
	svc, err := marketplace.New(marketplace.Config{Store: b.DB, Registry: b.Registry, Options: opts})
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

// TestMarketplaceSubmit submits the directory example through the API
// with the whole suite: the report is 404 before, another partner is
// refused, the owner's submission sets the level the report reached, the
// directory lists it with a working report link, and the badge names it.
func TestMarketplaceSubmit(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole conformance suite")
	}
	b := api.NewRealBackends(t, nil)
	svc := newMarketplace(t, b)
	srv, err := api.New(api.Config{Store: b.DB, Registry: api.RegistryBackend(b.Registry, 0), Marketplace: svc})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	keys := api.MakeKeys(t, b.DB)
	v, err := api.SpecValidator()
	if err != nil {
		t.Fatal(err)
	}
	do := func(principal, method, path string, want int) (*http.Response, []byte) {
		t.Helper()
		req, err := http.NewRequest(method, ts.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if k := keys[principal]; k != "" {
			req.Header.Set("Authorization", "Bearer "+k)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != want {
			t.Fatalf("%s %s as %s: %d, want %d: %s", method, path, principal, resp.StatusCode, want, body)
		}
		if want >= 400 {
			api.DecodeProblem(t, resp, body)
		}
		checkAgainstSpec(t, v, method+" "+path, req, resp, body)
		return resp, body
	}
	const ver = "/v1/connectors/directory/versions/1.0.0"

	_, body := do(api.PAdmin, http.MethodGet, ver+"/report", http.StatusNotFound)
	if !strings.Contains(string(body), "path.version") {
		t.Errorf("404 does not name the version: %s", body)
	}
	checkBadge(t, do, "uncertified")
	_, body = do(api.PPartnerOther, http.MethodPost, ver+"/submit", http.StatusForbidden)
	if !strings.Contains(string(body), "path.connector") {
		t.Errorf("403 does not name the connector: %s", body)
	}
	do(api.PAdmin, http.MethodPost, "/v1/connectors/directory/versions/9.9.9/submit", http.StatusNotFound)

	resp, body := do(api.PPartnerOwn, http.MethodPost, ver+"/submit", http.StatusCreated)
	var sub marketplace.Submission
	if err := json.Unmarshal(body, &sub); err != nil {
		t.Fatal(err)
	}
	if loc := resp.Header.Get("Location"); loc != ver+"/report" || sub.Report != loc {
		t.Errorf("Location %q, report %q; want %s/report", loc, sub.Report, ver)
	}

	_, body = do(api.PNone, http.MethodGet, "/v1/directory", http.StatusOK)
	var dir api.DirectoryList
	if err := json.Unmarshal(body, &dir); err != nil {
		t.Fatal(err)
	}
	if len(dir.Items) != 1 || dir.Items[0].Connector != "directory" || dir.Items[0].Version != "1.0.0" || dir.Items[0].Level != sub.Level {
		t.Fatalf("directory = %s; want directory 1.0.0 at %s", body, sub.Level)
	}
	_, body = do(api.PPartnerOwn, http.MethodGet, dir.Items[0].Report, http.StatusOK)
	rep, err := report.Parse(body)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Reached.String() != sub.Level || rep.Reached < conformance.Silver {
		t.Fatalf("level %s, report reached %s; want equal, at least silver (failed %v, skipped %v)", sub.Level, rep.Reached, sub.Failed, sub.Skipped)
	}
	_, body = do(api.PAdmin, http.MethodGet, ver, http.StatusOK)
	var got api.Version
	if err := json.Unmarshal(body, &got); err != nil || got.Certification != sub.Level {
		t.Errorf("version certification %q (%v), want %s", got.Certification, err, sub.Level)
	}
	checkBadge(t, do, sub.Level)
	do(api.PNone, http.MethodGet, "/badges/nope.svg", http.StatusNotFound)
}

// checkBadge fetches the directory badge: public, image/svg+xml, XML
// with an svg root, naming level.
func checkBadge(t *testing.T, do func(string, string, string, int) (*http.Response, []byte), level string) {
	t.Helper()
	resp, body := do(api.PNone, http.MethodGet, "/badges/directory.svg", http.StatusOK)
	if ct := resp.Header.Get("Content-Type"); ct != "image/svg+xml" {
		t.Errorf("badge Content-Type %q", ct)
	}
	var doc struct {
		XMLName xml.Name
		Texts   []string `xml:"g>text"`
	}
	if err := xml.Unmarshal(body, &doc); err != nil || doc.XMLName.Local != "svg" {
		t.Fatalf("badge is not an SVG document (%v): %s", err, body)
	}
	if !strings.Contains(strings.Join(doc.Texts, " "), level) {
		t.Errorf("badge texts %v do not name %s", doc.Texts, level)
	}
}
