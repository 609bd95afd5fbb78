package receipt_test

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/receipt"
)

var discloseKey = []byte("0123456789abcdef0123456789abcdef")

// tree commits objects (entity id → JSON, ids ascending) and returns the
// builder.
func tree(t *testing.T, objs [][2]string) *receipt.PayloadBuilder {
	t.Helper()
	b := receipt.NewPayloadBuilder()
	for _, o := range objs {
		d, err := receipt.ObjectDigest(discloseKey, o[0], []byte(o[1]))
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Add(o[0], d); err != nil {
			t.Fatal(err)
		}
	}
	return b
}

// TestDisclosureMatchesObjectDigest: a disclosure's object digest is the
// payload manifest's digest exactly, for awkward field names too, with
// every field revealed, some redacted, or all redacted; the inclusion
// proof holds against the root in each case.
func TestDisclosureMatchesObjectDigest(t *testing.T) {
	objs := [][2]string{
		{"e-1", `{"email":"ada@example.test","name":"Ada","n":1.50,"tags":["a","b"]}`},
		{"e-2", `{"a\"b":"quote","é":"accent","\u0000x":null,"z":{"nested":true}}`},
		{"e-3", `{}`},
	}
	b := tree(t, objs)
	root, size := b.Root()
	for i, o := range objs {
		want, err := receipt.ObjectDigest(discloseKey, o[0], []byte(o[1]))
		if err != nil {
			t.Fatal(err)
		}
		d, err := receipt.Disclose(discloseKey, o[0], []byte(o[1]))
		if err != nil {
			t.Fatal(err)
		}
		proof, err := b.InclusionProof(int64(i))
		if err != nil {
			t.Fatal(err)
		}
		names := make([]string, 0, len(d.Fields))
		for name := range d.Fields {
			names = append(names, name)
		}
		for step := 0; step <= len(names); step++ {
			got, err := d.ObjectDigest()
			if err != nil || got != want {
				t.Fatalf("%s with %d fields redacted: digest %x (%v), want %x", o[0], step, got, err, want)
			}
			if err := receipt.VerifyDisclosure(d, int64(i), size, proof, root); err != nil {
				t.Fatalf("%s with %d fields redacted: %v", o[0], step, err)
			}
			if step < len(names) {
				if err := d.Redact(names[step]); err != nil {
					t.Fatal(err)
				}
				if f := d.Fields[names[step]]; f.Revealed() || f.Salt != "" || f.Value != nil {
					t.Fatalf("redacted field keeps %+v", f)
				}
			}
		}
		if len(d.Redacted()) != len(names) {
			t.Fatalf("Redacted() = %v", d.Redacted())
		}
	}
}

// TestRedactedValueNotGuessable: equal values get different field
// digests in different objects and under different salt keys, and the
// salt is 128 bits, so a redacted digest cannot be matched against a
// dictionary of likely values.
func TestRedactedValueNotGuessable(t *testing.T) {
	data := []byte(`{"email":"ada@example.test"}`)
	a, err := receipt.FieldDigests(discloseKey, "e-1", data)
	if err != nil {
		t.Fatal(err)
	}
	b, err := receipt.FieldDigests(discloseKey, "e-2", data)
	if err != nil {
		t.Fatal(err)
	}
	c, err := receipt.FieldDigests([]byte("another tenant's 32-byte salt k!"), "e-1", data)
	if err != nil {
		t.Fatal(err)
	}
	if a["email"] == b["email"] || a["email"] == c["email"] {
		t.Fatal("equal values share a field digest")
	}
	if receipt.SaltSize*8 < 128 {
		t.Fatalf("salt is %d bits", receipt.SaltSize*8)
	}
	d, err := receipt.Disclose(discloseKey, "e-1", data)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Fields["email"].Salt) != 2*receipt.SaltSize {
		t.Fatalf("salt %q", d.Fields["email"].Salt)
	}
	// Without the salt, the value's unsalted hash does not give the digest.
	if err := d.Redact("email"); err != nil {
		t.Fatal(err)
	}
	out, _ := json.Marshal(d)
	if strings.Contains(string(out), "ada@example.test") {
		t.Fatalf("redacted disclosure holds the value: %s", out)
	}
}

// TestDisclosureTamperingNamesField: a changed value, salt or digest
// fails naming the object and field; a proof for another leaf fails
// with ErrBadProof.
func TestDisclosureTamperingNamesField(t *testing.T) {
	objs := [][2]string{{"e-1", `{"email":"a@x.test","name":"Ada"}`}, {"e-2", `{"name":"Bo"}`}}
	b := tree(t, objs)
	root, size := b.Root()
	proof, _ := b.InclusionProof(0)
	cases := []struct {
		name   string
		tamper func(d *receipt.Disclosure)
		field  string
		want   error
	}{
		{"value", func(d *receipt.Disclosure) {
			setField(d, "name", func(f *receipt.DisclosedField) { f.Value = json.RawMessage(`"Eve"`) })
		}, "name", receipt.ErrBadDisclosure},
		{"salt", func(d *receipt.Disclosure) {
			setField(d, "name", func(f *receipt.DisclosedField) { f.Salt = strings.Repeat("0", 32) })
		}, "name", receipt.ErrBadDisclosure},
		{"short salt", func(d *receipt.Disclosure) { setField(d, "name", func(f *receipt.DisclosedField) { f.Salt = "00" }) }, "name", receipt.ErrBadDisclosure},
		{"bad digest", func(d *receipt.Disclosure) { setField(d, "email", func(f *receipt.DisclosedField) { f.Digest = "zz" }) }, "email", receipt.ErrBadDisclosure},
		{"salt without value", func(d *receipt.Disclosure) { setField(d, "email", func(f *receipt.DisclosedField) { f.Value = nil }) }, "email", receipt.ErrBadDisclosure},
		{"not JSON", func(d *receipt.Disclosure) {
			setField(d, "email", func(f *receipt.DisclosedField) { f.Value = json.RawMessage(`{`) })
		}, "email", receipt.ErrBadDisclosure},
		{"redacted digest", func(d *receipt.Disclosure) {
			_ = d.Redact("email")
			setField(d, "email", func(f *receipt.DisclosedField) { f.Digest = strings.Repeat("ab", 32) })
		}, "", receipt.ErrBadProof},
		{"dropped field", func(d *receipt.Disclosure) { delete(d.Fields, "email") }, "", receipt.ErrBadProof},
		{"other entity", func(d *receipt.Disclosure) { d.EntityID = "e-2" }, "", receipt.ErrBadDisclosure},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, err := receipt.Disclose(discloseKey, objs[0][0], []byte(objs[0][1]))
			if err != nil {
				t.Fatal(err)
			}
			tc.tamper(&d)
			err = receipt.VerifyDisclosure(d, 0, size, proof, root)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			var de *receipt.DisclosureError
			if !errors.As(err, &de) || de.Field != tc.field {
				t.Fatalf("err %v names field %q, want %q", err, fieldOf(de), tc.field)
			}
		})
	}
	d, _ := receipt.Disclose(discloseKey, "e-1", []byte(objs[0][1]))
	if err := d.Redact("phone"); !errors.Is(err, receipt.ErrBadDisclosure) {
		t.Fatalf("redact a missing field: %v", err)
	}
	if _, err := receipt.Disclose([]byte("short"), "e-1", []byte(`{}`)); !errors.Is(err, receipt.ErrInvalidKey) {
		t.Fatalf("short salt key: %v", err)
	}
}

func setField(d *receipt.Disclosure, name string, fn func(*receipt.DisclosedField)) {
	f := d.Fields[name]
	fn(&f)
	d.Fields[name] = f
}

func fieldOf(de *receipt.DisclosureError) string {
	if de == nil {
		return "<none>"
	}
	return de.Field
}

func ExampleDisclosure_Redact() {
	saltKey := []byte("a 32-byte per-tenant secret key!")
	data := []byte(`{"email":"ada@example.test","status":"active"}`)
	digest, _ := receipt.ObjectDigest(saltKey, "e-1", data)

	d, _ := receipt.Disclose(saltKey, "e-1", data)
	_ = d.Redact("email")
	got, err := d.ObjectDigest()
	fmt.Println(got == digest, err, d.Redacted())
	fmt.Println(d.Fields["status"].Revealed(), string(d.Fields["status"].Value), len(hex.EncodeToString(got[:])))
	// Output:
	// true <nil> [email]
	// true "active" 64
}
