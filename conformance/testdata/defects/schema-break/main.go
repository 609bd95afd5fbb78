// Command schema-break is a defect of the conformance corpus: sync emits
// the first user of every page with a number as its email, which breaks
// the declared schema ("email": {"type": "string"}). The host must
// reject that object and accept the rest.
package main

import (
	_ "embed"
	"encoding/json"

	"github.com/sluicehq/sluice/conformance/testdata/internal/defectbase"
	"github.com/sluicehq/sluice/guest-sdk/protocol"
	"github.com/sluicehq/sluice/guest-sdk/sdk"
)

//go:embed connector.json
var manifest []byte

// BrokenEmail is the email the broken user carries.
const BrokenEmail = 12345

func init() {
	sdk.Register(defectbase.New(manifest, defectbase.Options{Object: breakEmail}))
}

func breakEmail(i int, o protocol.Object) protocol.Object {
	if i != 0 || o.Type != "user" {
		return o
	}
	var m map[string]any
	if err := json.Unmarshal(o.Data, &m); err != nil {
		return o
	}
	m["email"] = BrokenEmail
	if b, err := json.Marshal(m); err == nil {
		o.Data = b
	}
	return o
}

func main() {}
