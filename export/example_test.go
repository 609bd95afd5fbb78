package export_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"fmt"
	"os"
	"path/filepath"

	"github.com/sluicehq/sluice/export"
	"github.com/sluicehq/sluice/receipt"
)

// keysOf trusts the keys a bundle lists (for tests; a real verifier gets
// them out of band).
func keysOf(b *export.Bundle) (receipt.KeySet, error) {
	ks := receipt.KeySet{}
	for _, k := range b.Keys {
		if _, err := ks.Add(ed25519.PublicKey(k.Public)); err != nil {
			return nil, err
		}
	}
	return ks, nil
}

func ExampleVerify() {
	doc, err := os.ReadFile(filepath.Join("testdata", "bundle-auditor.golden.json"))
	if err != nil {
		panic(err)
	}
	rep, err := export.Verify(doc, nil)
	fmt.Printf("%d objects, %d fields revealed, %d redacted, err %v\n", rep.Objects, rep.RevealedFields, rep.RedactedFields, err)

	// A revealed value changed after export no longer matches its digest.
	tampered := bytes.Replace(doc, []byte(`"value": "suspended"`), []byte(`"value": "active"`), 1)
	_, err = export.Verify(tampered, nil)
	fmt.Println(err)
	// Output:
	// 3 objects, 3 fields revealed, 10 redacted, err <nil>
	// export: object d0d61fa8-f98d-5f47-922d-5e98f17cbb13 field "status" (receipt rcpt-01957a00-0000-7000-8000-000000000001): revealed value does not match its digest
}

func ExampleDefaultRules_Decide() {
	ctx := context.Background()
	v, _ := export.DefaultRules{}.Decide(ctx, export.Field{Role: export.RoleAuditor, Connector: "directory", ObjectType: "user", Name: "email", Class: "contact"})
	fmt.Println(v.Redact, v.RuleID, v.Reason)
	v, _ = export.DefaultRules{}.Decide(ctx, export.Field{Role: export.RolePII, ObjectType: "user", Name: "email", Class: "contact"})
	fmt.Println(v.Redact, v.RuleID)
	// Output:
	// true default/auditor-no-pii PII class contact is not disclosed to role auditor
	// false default/full-access
}

func ExamplePointerTo() {
	fmt.Println(export.PointerTo("email"), export.PointerTo("a/b~c"))
	// Output: /email /a~1b~0c
}
