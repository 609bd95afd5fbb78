package receipt_test

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"testing"

	"github.com/sluicehq/sluice/receipt"
)

// benchObject is a typical CRM contact, canonical, 12 top-level fields.
const benchObject = `{"address":{"city":"London","country":"GB","line1":"12 Marylebone Rd","postcode":"NW1 5LR"},` +
	`"amount":1250.5,"company":"Analytical Engines Ltd","created_at":"2026-01-04T09:12:44Z","email":"ada@example.test",` +
	`"id":"c-000123","lifecycle":"customer","name":"Ada Lovelace","owner_id":"u-42","phone":"+44 20 7946 0000",` +
	`"tags":["vip","eu","newsletter"],"updated_at":"2026-02-28T17:03:10.512Z"}`

func BenchmarkObjectDigest(b *testing.B) {
	data := []byte(benchObject)
	b.Run("digester", func(b *testing.B) {
		d, err := receipt.NewDigester(testSaltKey)
		if err != nil {
			b.Fatal(err)
		}
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := d.ObjectDigest("0b7c1a6e-0000-5000-8000-000000000001", data); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("func", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := receipt.ObjectDigest(testSaltKey, "0b7c1a6e-0000-5000-8000-000000000001", data); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("not-canonical", func(b *testing.B) {
		d, err := receipt.NewDigester(testSaltKey)
		if err != nil {
			b.Fatal(err)
		}
		spaced := []byte(" " + benchObject)
		b.SetBytes(int64(len(spaced)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := d.ObjectDigest("0b7c1a6e-0000-5000-8000-000000000001", spaced); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkPayloadRoot100k adds 100k object digests and computes the root,
// as the engine does at the end of a large run.
func BenchmarkPayloadRoot100k(b *testing.B) {
	const n = 100_000
	ids := make([]string, n)
	digests := make([][32]byte, n)
	for i := range n {
		ids[i] = fmt.Sprintf("entity-%08d", i)
		var buf [8]byte
		binary.BigEndian.PutUint64(buf[:], uint64(i))
		digests[i] = sha256.Sum256(buf[:])
	}
	b.ReportAllocs()
	for b.Loop() {
		pb := receipt.NewPayloadBuilder()
		for i := range n {
			if err := pb.Add(ids[i], digests[i]); err != nil {
				b.Fatal(err)
			}
		}
		pb.Root()
	}
}

func BenchmarkSignIngest(b *testing.B) {
	s := receipt.NewSigner(seededKey(b, "bench"))
	p := sampleIngest(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.SignIngest(ctx, p); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	k := seededKey(b, "bench")
	env, err := receipt.NewSigner(k).SignIngest(context.Background(), sampleIngest(b))
	if err != nil {
		b.Fatal(err)
	}
	keys := keySet(b, k)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := receipt.Verify(env, keys); err != nil {
			b.Fatal(err)
		}
	}
}
