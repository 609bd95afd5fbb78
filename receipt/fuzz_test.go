package receipt_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/sluicehq/sluice/receipt"
)

// FuzzVerify feeds arbitrary envelopes to Verify: it must never panic,
// and whatever it accepts the independent verifier must accept too, over
// the same statement bytes.
func FuzzVerify(f *testing.F) {
	k := seededKey(f, "signer")
	env, err := receipt.NewSigner(k).SignIngest(context.Background(), sampleIngest(f))
	if err != nil {
		f.Fatal(err)
	}
	keys := keySet(f, k)
	f.Add(env)
	f.Add([]byte(`{"payloadType":"application/vnd.in-toto+json","payload":"e30=","signatures":[]}`))
	f.Add([]byte(`{"payloadType":"application/vnd.in-toto+json","payload":"e30=","signatures":[{"keyid":"` + k.ID + `","sig":"AAAA"}]}`))
	f.Add([]byte(`{"signatures":[{},{},{}]}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := receipt.Verify(data, keys)
		if err != nil {
			return
		}
		body, err := verifyIndependently(data, k.Public())
		if err != nil {
			t.Fatalf("Verify accepted what the independent verifier refuses: %v", err)
		}
		if !bytes.Equal(body, v.Statement) {
			t.Fatal("Verified.Statement is not the signed payload")
		}
	})
}

// FuzzObjectDigest feeds arbitrary objects to ObjectDigest: it must never
// panic, must agree with the reference implementation on what it accepts
// and on the digest, and must agree with the digest rebuilt from its own
// field digests.
func FuzzObjectDigest(f *testing.F) {
	for _, c := range digestCases {
		f.Add(c.id, []byte(c.data))
	}
	f.Add("e", []byte(`{"b":1,"a":[1,2,{"z":null,"y":1e3}]}`))
	f.Add("e", []byte(` { "a" : "\u00e9" } `))
	f.Fuzz(func(t *testing.T, id string, data []byte) {
		got, err := receipt.ObjectDigest(testSaltKey, id, data)
		if err != nil {
			return
		}
		want, _, refErr := referenceObjectDigest(testSaltKey, id, data)
		if refErr != nil {
			t.Fatalf("ObjectDigest accepted %q, the reference refuses it: %v", data, refErr)
		}
		if got != want {
			t.Fatalf("ObjectDigest(%q, %q) = %x, reference %x", id, data, got, want)
		}
		fields, err := receipt.FieldDigests(testSaltKey, id, data)
		if err != nil {
			t.Fatal(err)
		}
		rebuilt, err := receipt.ObjectDigestFromFieldDigests(id, fields)
		if err != nil || rebuilt != got {
			t.Fatalf("ObjectDigestFromFieldDigests = %x, %v; want %x", rebuilt, err, got)
		}
	})
}
