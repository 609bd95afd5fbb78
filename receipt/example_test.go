package receipt_test

import (
	"bytes"
	"context"
	"fmt"

	"github.com/sluicehq/sluice/receipt"
)

func ExampleKeyID() {
	k, err := receipt.KeyFromSeed(bytes.Repeat([]byte{1}, 32))
	if err != nil {
		panic(err)
	}
	fmt.Println(k.ID)
	// Output: ed25519:34750f98bd59fcfc
}

func ExamplePayloadBuilder() {
	saltKey := []byte("a 32-byte per-tenant secret key!")
	objects := []struct{ id, data string }{
		{"e-1", `{"email":"ada@example.test","name":"Ada"}`},
		{"e-2", `{"email":"alan@example.test","name":"Alan"}`},
		{"e-3", `{"name":"Grace"}`},
	}
	b := receipt.NewPayloadBuilder()
	for _, o := range objects {
		digest, err := receipt.ObjectDigest(saltKey, o.id, []byte(o.data))
		if err != nil {
			panic(err)
		}
		if err := b.Add(o.id, digest); err != nil {
			panic(err)
		}
	}
	ref := b.Ref()
	fmt.Println(ref.Count, ref.Algorithm, ref.Root)
	// Output: 3 rfc6962-sha256 04fc32878a5e097d0b970a18d576a872484d1acb9e94c98d91a5f648a79f0c59
}

func ExampleVerify() {
	ctx := context.Background()
	key, _ := receipt.KeyFromSeed(bytes.Repeat([]byte{1}, 32))
	envelope, err := receipt.NewSigner(key).Sign(ctx, "https://example.test/predicate/v1",
		[]receipt.Subject{{Name: "report.pdf", Digest: map[string]string{"sha256": "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"}}},
		map[string]string{"reviewed_by": "alice"})
	if err != nil {
		panic(err)
	}
	trusted, _ := receipt.NewKeySet(key.Public())
	v, err := receipt.Verify(envelope, trusted)
	if err != nil {
		panic(err)
	}
	fmt.Println(v.KeyID == key.ID, string(v.Predicate))
	// Output: true {"reviewed_by":"alice"}
}
