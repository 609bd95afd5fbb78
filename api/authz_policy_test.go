package api_test

import (
	"context"

	"github.com/sluicehq/sluice/policy"
)

// policyRows: the tenants' CEL policies and their recorded decisions.
// The decision row reads a real decision of acme, recorded through the
// policy package (unwired, the route answers 501 behind authorization).
func (w *world) policyRows() []tableRow {
	decision := "dec-unwired"
	if acme, err := w.db.Tenant("acme"); err == nil && w.wired {
		d, err := policy.Builtin().DecideAction(context.Background(), acme,
			policy.ActionInput{Connector: "directory", Connection: "crm", Action: "create_user"})
		if err == nil {
			decision = d.ID
		}
	}
	rows := []tableRow{
		get("/v1/tenants/{tenant}/policies", "/v1/tenants/acme/policies", tenantOnly(200)),
		// The built-in default again, so the rows after this one see the
		// same action policy as before.
		{method: "PUT", pattern: "/v1/tenants/{tenant}/policies/{kind}", req: request{path: "/v1/tenants/acme/policies/action",
			contentType: js, body: []byte(`{"expression":"true"}`)}, want: tenantOnly(200)},
		get("/v1/tenants/{tenant}/decisions/{decision}", "/v1/tenants/acme/decisions/"+decision, tenantOnly(200)),
	}
	for i := range rows {
		rows[i].backend = "policies"
	}
	return rows
}
