package export_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/gowebpki/jcs"

	"github.com/sluicehq/sluice/export"
)

// FuzzVerify feeds arbitrary documents, seeded with the golden bundles
// (DefaultRules, and PolicyRules whose redactions name decisions), to
// Verify: it must never panic; a bundle it accepts must verify again
// after a round trip; and trusting the golden bundle's keys, an accepted
// bundle cannot reveal a value other than the one the golden bundle
// reveals for the same object and field.
func FuzzVerify(f *testing.F) {
	golden, err := os.ReadFile(filepath.Join("testdata", "bundle-auditor.golden.json"))
	if err != nil {
		f.Fatal(err)
	}
	gb, err := export.Parse(golden)
	if err != nil {
		f.Fatal(err)
	}
	trusted, err := keysOf(gb)
	if err != nil {
		f.Fatal(err)
	}
	revealed := map[string]string{} // entity \x00 field → canonical value
	for _, o := range gb.Objects {
		for name, fl := range o.Disclosure.Fields {
			if fl.Revealed() {
				c, _ := jcs.Transform(fl.Value)
				revealed[o.Disclosure.EntityID+"\x00"+name] = string(c)
			}
		}
	}
	f.Add(golden)
	policyGolden, err := os.ReadFile(filepath.Join("testdata", "bundle-auditor-policy.golden.json"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(policyGolden)
	f.Add(bytes.Replace(policyGolden, []byte(`"pii_class": "contact"`), []byte(`"pii_class": "none"`), 1))
	f.Add(bytes.Replace(golden, []byte(`"active"`), []byte(`"deleted"`), 1))
	f.Add([]byte(`{"format":"sluice-export-bundle/v1","tenant":"a","role":"r","from":"2026-01-01T00:00:00Z","to":"2026-01-02T00:00:00Z","created_at":"","keys":[],"receipts":[],"objects":[],"redactions":[],"policies":[],"decisions":[],"lineage":[],"omitted":[]}`))
	f.Add([]byte(`{"format":"sluice-export-bundle/v1"}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, data []byte) {
		if _, err := export.Verify(data, nil); err != nil {
			return
		}
		b, err := export.Parse(data)
		if err != nil {
			t.Fatalf("Verify accepted what Parse refuses: %v", err)
		}
		again, err := export.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := export.Verify(again, nil); err != nil {
			t.Fatalf("accepted bundle fails after a round trip: %v", err)
		}
		if _, err := export.Verify(data, trusted); err != nil {
			return // signed by keys of its own: consistent, not ours
		}
		for _, o := range b.Objects {
			for name, fl := range o.Disclosure.Fields {
				want, ok := revealed[o.Disclosure.EntityID+"\x00"+name]
				if !fl.Revealed() || !ok {
					continue
				}
				if c, _ := jcs.Transform(fl.Value); string(c) != want {
					t.Fatalf("forged value %s for %s/%s verified", fl.Value, o.Disclosure.EntityID, name)
				}
			}
		}
	})
}
