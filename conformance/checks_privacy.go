package conformance

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/sluicehq/sluice/guest-sdk/protocol"
)

// identifying names fields that identify a person whatever the
// connector: they may not be declared PII class none.
var identifying = []string{"email", "phone", "mobile", "address", "ip", "ip_address", "ssn", "birth_date", "birthdate",
	"dob", "first_name", "last_name", "full_name", "username", "login", "passport", "national_id", "tax_id"}

var piiClasses = []string{protocol.PIINone, protocol.PIIContact, protocol.PIIIdentifier, protocol.PIISensitive, protocol.PIICredential}

func privacyChecks() []Check {
	return []Check{{
		ID: "privacy.pii-classes", Gate: GatePrivacy, Level: Silver, Needs: []string{"static.manifest"},
		Title:  "PII classes are declared for identifying fields",
		Proves: "Every allow-listed field of every object type has a PII class (none, contact, identifier, sensitive, credential), and fields that identify a person (email, phone, address, username…) are not class none: redaction in exports depends on it.",
		Fix:    "Give every entry of object_types[].fields a pii class; classify personal fields as contact, identifier or sensitive.",
		Run:    checkPIIClasses,
	}, {
		ID: "privacy.allow-list", Gate: GatePrivacy, Level: Silver, Needs: []string{"correctness.ingest"}, Live: true,
		Title:  "Fields outside the allow-list are never stored",
		Proves: "No stored object holds a field its type's allow-list (fields) does not name, whatever the module emitted.",
		Fix:    "List in fields exactly the data the product needs; the host drops the rest. A failure here is a host defect.",
		Run:    checkAllowList,
	}, {
		ID: "privacy.retention", Gate: GatePrivacy, Level: Gold,
		Title:  "Retention and no-persistent-indexing are honoured",
		Proves: "Objects older than their retention window (the manifest's retention_days, or a day if it declares none) are purged by the host's sweep with a signed purge receipt, and with persistent indexing off no object and no tape is stored while the connection's stream delivers every object the receipt counts.",
		Fix:    "Declare retention_days and persistent_indexing in connector.json. A failure here is a host defect: the retention sweeper or the no-persistent-indexing sink.",
		Needs:  []string{"correctness.ingest"}, Live: true,
		Run: checkRetention, // checks_retention.go
	}}
}

func checkPIIClasses(_ context.Context, env *Env) Verdict {
	var problems []string
	for _, ot := range env.Manifest.ObjectTypes {
		for _, f := range sortedKeys(ot.Fields) {
			class := ot.Fields[f].PII
			switch {
			case !slices.Contains(piiClasses, class):
				problems = append(problems, fmt.Sprintf("%s.%s: PII class %q is not one of %v", ot.Name, f, class, piiClasses))
			case class == protocol.PIINone && slices.Contains(identifying, strings.ToLower(f)):
				problems = append(problems, fmt.Sprintf("%s.%s identifies a person but is declared PII class none", ot.Name, f))
			}
		}
	}
	if len(problems) > 0 {
		return fail(strings.Join(problems, "; "), problems)
	}
	return pass("every allow-listed field has a PII class; identifying fields are classified", nil)
}

func checkAllowList(ctx context.Context, env *Env) Verdict {
	allowed := map[string]map[string]protocol.FieldPolicy{}
	for _, ot := range env.Manifest.ObjectTypes {
		allowed[ot.Name] = ot.Fields
	}
	n := 0
	for _, id := range env.TenantIDs() {
		t, err := env.Store.Tenant(id)
		if err != nil {
			return fail(err.Error(), nil)
		}
		objs, err := allObjects(ctx, t)
		if err != nil {
			return fail(err.Error(), nil)
		}
		for _, o := range objs {
			var data map[string]json.RawMessage
			if err := json.Unmarshal(o.Data, &data); err != nil {
				return failf("%s: stored data is not a JSON object: %v", sourceKey(o), err)
			}
			for k := range data {
				if _, ok := allowed[o.Type][k]; !ok {
					return failf("tenant %s: %s holds field %q, outside the allow-list", id, sourceKey(o), k)
				}
			}
			n++
		}
	}
	return pass(fmt.Sprintf("%d stored objects, every field allow-listed", n), nil)
}
