package receipt_test

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/sluicehq/sluice/receipt"
)

// digestCases cover the names and values where canonical JSON is subtle:
// escapes, non-ASCII, code points on both sides of U+E000 (where UTF-8 and
// UTF-16 orders part), numbers in ES6 form, nesting.
var digestCases = []struct {
	name string
	id   string
	data string
}{
	{"flat", "e-1", `{"a":1,"b":"two","c":true,"d":null}`},
	{"empty object", "e-2", `{}`},
	{"nested", "e-3", `{"addr":{"city":"Zürich","zip":"8000"},"list":[1,[2,{"x":false}]]}`},
	{"numbers", "e-4", `{"big":1e+21,"exp":1e-7,"frac":0.1,"neg":-3,"pi":3.141592653589793,"zero":0}`},
	{"escaped names", "e-5", `{"\n":1,"\u001f":2,"a\"b":3,"back\\slash":4,"tab\tname":5}`},
	{"unicode names", "e-6", `{"a":1,"é":2,"€":3,"":4,"😀":5,"ﬀ":6}`},
	{"escaped values", "e-7", `{"s":"line\nbreak \"quoted\" \\ \u0000 / é"}`},
	{"entity id needing escapes", "id \"quoted\"\n", `{"a":1}`},
}

type digestVector struct {
	EntityID     string            `json:"entity_id"`
	Data         string            `json:"data"`
	FieldDigests map[string]string `json:"field_digests"`
	ObjectDigest string            `json:"object_digest"`
}

// TestObjectDigestGolden pins the object digest format with known-answer
// vectors, and holds the fast implementation to the reference one.
func TestObjectDigestGolden(t *testing.T) {
	var vectors []digestVector
	for _, c := range digestCases {
		got, err := receipt.ObjectDigest(testSaltKey, c.id, []byte(c.data))
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		ref, refFields, err := referenceObjectDigest(testSaltKey, c.id, []byte(c.data))
		if err != nil {
			t.Fatalf("%s: reference: %v", c.name, err)
		}
		if got != ref {
			t.Errorf("%s: ObjectDigest = %x, reference %x", c.name, got, ref)
		}
		fields, err := receipt.FieldDigests(testSaltKey, c.id, []byte(c.data))
		if err != nil {
			t.Fatal(err)
		}
		v := digestVector{EntityID: c.id, Data: c.data, FieldDigests: map[string]string{}, ObjectDigest: hex.EncodeToString(got[:])}
		for name, d := range fields {
			if refFields[name] != d {
				t.Errorf("%s: field %q digest %x, reference %x", c.name, name, d, refFields[name])
			}
			v.FieldDigests[name] = hex.EncodeToString(d[:])
		}
		if len(fields) != len(refFields) {
			t.Errorf("%s: %d fields, reference %d", c.name, len(fields), len(refFields))
		}
		vectors = append(vectors, v)
	}
	got, err := json.MarshalIndent(map[string]any{
		"salt_key_hex": hex.EncodeToString(testSaltKey),
		"vectors":      vectors,
	}, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	path := filepath.Join("testdata", "object-digests.golden.json")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if string(got) != string(want) {
		t.Errorf("object digests differ from %s; the format changed (run go test -update only if that is intended)", path)
	}
}

func TestObjectDigestIgnoresKeyOrderAndWhitespace(t *testing.T) {
	const id = "e-1"
	canonical := `{"a":1,"b":{"x":[1,2],"y":"z"},"c":"é"}`
	want, err := receipt.ObjectDigest(testSaltKey, id, []byte(canonical))
	if err != nil {
		t.Fatal(err)
	}
	for _, data := range []string{
		`{"c":"é","b":{"y":"z","x":[1,2]},"a":1}`,
		"{ \"b\" : { \"y\":\"z\", \"x\":[ 1, 2 ] },\n\t\"a\":1.0, \"c\":\"\\u00e9\" }",
		`{"a":10e-1,"c":"\u00E9","b":{"x":[1,2],"y":"z"}}`,
	} {
		got, err := receipt.ObjectDigest(testSaltKey, id, []byte(data))
		if err != nil {
			t.Fatalf("%s: %v", data, err)
		}
		if got != want {
			t.Errorf("ObjectDigest(%s) = %x, want %x (as for the canonical form)", data, got, want)
		}
	}
}

func TestObjectDigestChanges(t *testing.T) {
	base := `{"a":1,"b":"x"}`
	want, err := receipt.ObjectDigest(testSaltKey, "e-1", []byte(base))
	if err != nil {
		t.Fatal(err)
	}
	otherSalt := append([]byte("another"), testSaltKey...)
	tests := []struct {
		name string
		salt []byte
		id   string
		data string
	}{
		{"value changed", testSaltKey, "e-1", `{"a":2,"b":"x"}`},
		{"value type changed", testSaltKey, "e-1", `{"a":"1","b":"x"}`},
		{"field renamed", testSaltKey, "e-1", `{"a":1,"c":"x"}`},
		{"field added", testSaltKey, "e-1", `{"a":1,"b":"x","c":null}`},
		{"field removed", testSaltKey, "e-1", `{"a":1}`},
		{"values swapped", testSaltKey, "e-1", `{"a":"x","b":1}`},
		{"entity id changed", testSaltKey, "e-2", base},
		{"salt key changed", otherSalt, "e-1", base},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := receipt.ObjectDigest(tt.salt, tt.id, []byte(tt.data))
			if err != nil {
				t.Fatal(err)
			}
			if got == want {
				t.Fatalf("digest did not change")
			}
		})
	}
}

func TestObjectDigestRejects(t *testing.T) {
	tests := []struct {
		name string
		salt []byte
		id   string
		data string
		want error
	}{
		{"array", testSaltKey, "e", `[1]`, receipt.ErrMalformed},
		{"string", testSaltKey, "e", `"x"`, receipt.ErrMalformed},
		{"null", testSaltKey, "e", `null`, receipt.ErrMalformed},
		{"not JSON", testSaltKey, "e", `{"a":}`, receipt.ErrMalformed},
		{"duplicate key", testSaltKey, "e", `{"a":1,"a":2}`, receipt.ErrMalformed},
		{"trailing data", testSaltKey, "e", `{"a":1}x`, receipt.ErrMalformed},
		{"invalid UTF-8", testSaltKey, "e", "{\"a\":\"\xff\"}", receipt.ErrMalformed},
		{"number out of range", testSaltKey, "e", `{"a":1e400}`, receipt.ErrMalformed},
		{"empty", testSaltKey, "e", ``, receipt.ErrMalformed},
		{"empty entity id", testSaltKey, "", `{}`, receipt.ErrMalformed},
		{"NUL in entity id", testSaltKey, "a\x00b", `{}`, receipt.ErrMalformed},
		{"invalid UTF-8 entity id", testSaltKey, "\xff", `{}`, receipt.ErrMalformed},
		{"short salt key", []byte("short"), "e", `{}`, receipt.ErrInvalidKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := receipt.ObjectDigest(tt.salt, tt.id, []byte(tt.data)); !errors.Is(err, tt.want) {
				t.Fatalf("ObjectDigest = %v, want %v", err, tt.want)
			}
			if _, err := receipt.FieldDigests(tt.salt, tt.id, []byte(tt.data)); !errors.Is(err, tt.want) {
				t.Fatalf("FieldDigests = %v, want %v", err, tt.want)
			}
		})
	}
}

// TestRedaction plays an export that discloses some fields (salt and
// value) and redacts the others (digest only); the reader rebuilds the
// object digest and proves it is in the signed payload root.
func TestRedaction(t *testing.T) {
	d, err := receipt.NewDigester(testSaltKey)
	if err != nil {
		t.Fatal(err)
	}
	b := samplePayload(t)
	root, size := b.Root()
	const target = 2 // "Grace Hopper"
	obj := sampleObjects[target]

	want, err := d.ObjectDigest(obj.id, []byte(obj.data))
	if err != nil {
		t.Fatal(err)
	}
	fields, err := d.FieldDigests(obj.id, []byte(obj.data))
	if err != nil {
		t.Fatal(err)
	}
	var values map[string]json.RawMessage
	if err := json.Unmarshal([]byte(obj.data), &values); err != nil {
		t.Fatal(err)
	}

	// The exporter redacts "email"; for every other field it hands out
	// the salt and the value.
	type disclosure struct {
		salt  [receipt.SaltSize]byte
		value json.RawMessage
	}
	disclosed := map[string]disclosure{}
	redacted := map[string][32]byte{"email": fields["email"]}
	for name, v := range values {
		if name == "email" {
			continue
		}
		salt, err := d.FieldSalt(obj.id, name)
		if err != nil {
			t.Fatal(err)
		}
		disclosed[name] = disclosure{salt, v}
	}

	// The reader knows no salt key.
	rebuilt := map[string][32]byte{}
	for name, digest := range redacted {
		rebuilt[name] = digest
	}
	for name, disc := range disclosed {
		fd, err := receipt.FieldDigest(disc.salt, name, disc.value)
		if err != nil {
			t.Fatal(err)
		}
		if fd != fields[name] {
			t.Fatalf("FieldDigest(%s) = %x, want %x", name, fd, fields[name])
		}
		rebuilt[name] = fd
	}
	got, err := receipt.ObjectDigestFromFieldDigests(obj.id, rebuilt)
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Fatalf("ObjectDigestFromFieldDigests = %x, want %x", got, want)
	}
	index, ok := b.Index(obj.id)
	if !ok || index != target {
		t.Fatalf("Index = %d, %v", index, ok)
	}
	proof, err := b.InclusionProof(index)
	if err != nil {
		t.Fatal(err)
	}
	if err := receipt.VerifyInclusion(got, index, size, proof, root); err != nil {
		t.Fatalf("rebuilt digest not in the payload root: %v", err)
	}

	// A disclosed value that was tampered with breaks the chain.
	forged, err := receipt.FieldDigest(disclosed["name"].salt, "name", []byte(`"Grace Hopper"`))
	if err != nil {
		t.Fatal(err)
	}
	rebuilt["name"] = forged
	bad, err := receipt.ObjectDigestFromFieldDigests(obj.id, rebuilt)
	if err != nil {
		t.Fatal(err)
	}
	if err := receipt.VerifyInclusion(bad, index, size, proof, root); !errors.Is(err, receipt.ErrBadProof) {
		t.Fatalf("forged disclosure: VerifyInclusion = %v, want ErrBadProof", err)
	}
}

func TestObjectDigestFromFieldDigestsMatches(t *testing.T) {
	for _, c := range digestCases {
		fields, err := receipt.FieldDigests(testSaltKey, c.id, []byte(c.data))
		if err != nil {
			t.Fatal(err)
		}
		want, err := receipt.ObjectDigest(testSaltKey, c.id, []byte(c.data))
		if err != nil {
			t.Fatal(err)
		}
		got, err := receipt.ObjectDigestFromFieldDigests(c.id, fields)
		if err != nil || got != want {
			t.Errorf("%s: ObjectDigestFromFieldDigests = %x, %v; want %x", c.name, got, err, want)
		}
	}
	if _, err := receipt.ObjectDigestFromFieldDigests("e", map[string][32]byte{"\xff": {}}); !errors.Is(err, receipt.ErrMalformed) {
		t.Errorf("invalid UTF-8 field name: %v, want ErrMalformed", err)
	}
	if _, err := receipt.ObjectDigestFromFieldDigests("", nil); !errors.Is(err, receipt.ErrMalformed) {
		t.Errorf("empty entity id: %v, want ErrMalformed", err)
	}
}

func TestFieldDigestCanonicalisesValue(t *testing.T) {
	var salt [receipt.SaltSize]byte
	a, err := receipt.FieldDigest(salt, "f", []byte(`{"b":1,"a":2}`))
	if err != nil {
		t.Fatal(err)
	}
	b, err := receipt.FieldDigest(salt, "f", []byte(`{"a":2,"b":1}`))
	if err != nil || a != b {
		t.Fatalf("FieldDigest differs for one value in two forms: %x, %x, %v", a, b, err)
	}
	if _, err := receipt.FieldDigest(salt, "f", []byte(`{`)); !errors.Is(err, receipt.ErrMalformed) {
		t.Fatalf("FieldDigest(bad JSON) = %v, want ErrMalformed", err)
	}
	if _, err := receipt.FieldDigest(salt, "\xff", []byte(`1`)); !errors.Is(err, receipt.ErrMalformed) {
		t.Fatalf("FieldDigest(bad name) = %v, want ErrMalformed", err)
	}
}

func TestDigesterDoesNotAllocate(t *testing.T) {
	d, err := receipt.NewDigester(testSaltKey)
	if err != nil {
		t.Fatal(err)
	}
	data := []byte(benchObject)
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := d.ObjectDigest("0b7c1a6e-0000-5000-8000-000000000001", data); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("ObjectDigest of a canonical object allocates %v times", allocs)
	}
}
