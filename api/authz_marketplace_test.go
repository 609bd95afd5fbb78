package api_test

import (
	"net/http"
	"testing"

	"github.com/sluicehq/sluice/api"
	"github.com/sluicehq/sluice/conformance"
	"github.com/sluicehq/sluice/marketplace"
)

// worldMarketplace is the marketplace service of the wired world. Its
// suite is the static review alone: the table checks who may submit and
// read, not what the suite finds (TestMarketplaceSubmit runs it whole),
// and each accepted submission runs it once.
func worldMarketplace(t *testing.T, b *api.RealBackends) *marketplace.Service {
	t.Helper()
	return marketplaceService(t, b, conformance.WithOnly("static.manifest", "static.imports", "static.scope-reasons", "static.hosts"))
}

// marketplaceRows: submission is for admins and the owning partner
// (another partner's 403 is the service's, b403); the report for admins,
// reviewers and the owning partner (another partner's 404 is the
// guard's); the directory and badges are public.
func (w *world) marketplaceRows() []tableRow {
	report := get(ver+"/report", dir+"/report", keyed(200, 200, 404, 403, 403, 200))
	report.prepare = func(t *testing.T, _ string, req request) request {
		if w.wired { // a report to read, whatever ran before
			if status, body := w.call(t, api.PAdmin, http.MethodGet, dir+"/report", ""); status != http.StatusOK {
				if status, body = w.call(t, api.PAdmin, http.MethodPost, dir+"/submit", ""); status != http.StatusCreated {
					t.Fatalf("submit directory 1.0.0: %d %s", status, body)
				}
			}
		}
		return req
	}
	rows := []tableRow{
		{method: "POST", pattern: ver + "/submit", req: request{path: dir + "/submit"}, want: keyed(201, 201, b403, 403, 403, 403)},
		report,
		get("/v1/directory", "/v1/directory", public(200)),
		get("/badges/{connector}.svg", "/badges/directory.svg", public(200)),
	}
	for i := range rows {
		rows[i].backend = "marketplace"
	}
	return rows
}
