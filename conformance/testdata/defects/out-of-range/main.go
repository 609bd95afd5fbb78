// Command out-of-range is a defect of the conformance corpus: backfill
// ignores its range, lists users without created_from/created_to and
// emits them all, so every user created outside the range is emitted.
// The host must reject those objects (a backfill never writes outside
// its range).
package main

import (
	_ "embed"

	"github.com/sluicehq/sluice/conformance/testdata/internal/defectbase"
	"github.com/sluicehq/sluice/guest-sdk/sdk"
)

//go:embed connector.json
var manifest []byte

func init() {
	sdk.Register(defectbase.New(manifest, defectbase.Options{IgnoreRange: true}))
}

func main() {}
