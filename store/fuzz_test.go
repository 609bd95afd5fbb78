package store

import (
	"bytes"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"
)

var idPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)
var namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$`)

// FuzzValidID checks the hand-written validators against the regexps
// they implement, and that Tenant accepts exactly the valid ids.
func FuzzValidID(f *testing.F) {
	for _, s := range []string{"", "a", "acme", "a-b_c", "-a", "A", "a/b", "a\x00", strings.Repeat("z", 63), strings.Repeat("z", 64), "é", "a.b", "a:b", "0"} {
		f.Add(s)
	}
	db, err := Open(Options{InMemory: true})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = db.Close() })
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := validID(s), idPattern.MatchString(s); got != want {
			t.Fatalf("validID(%q) = %v, regexp says %v", s, got, want)
		}
		if got, want := validName(s, maxNameLen), namePattern.MatchString(s); got != want {
			t.Fatalf("validName(%q) = %v, regexp says %v", s, got, want)
		}
		tn, err := db.Tenant(s)
		if (err == nil) != validID(s) {
			t.Fatalf("Tenant(%q) err = %v, valid = %v", s, err, validID(s))
		}
		if err != nil && !errors.Is(err, ErrInvalid) {
			t.Fatalf("Tenant(%q) err = %v, not ErrInvalid", s, err)
		}
		if err == nil && tn.ID() != s {
			t.Fatalf("ID() = %q", tn.ID())
		}
	})
}

// FuzzKeys builds keys from fuzzed segments: whenever every segment
// validates, the key must start with t/{tenant}/, stay inside the tenant's
// prefix, and split back into exactly the segments given.
func FuzzKeys(f *testing.F) {
	f.Add("acme", "c1", "contact", "9f5d029a-d0bc-5c3d-8c93-cfcf6cbee54e")
	f.Add("acme", "c1", "a/b", "x")
	f.Add("a", "a-", "T.y:pe", "00000000-0000-0000-0000-000000000000")
	f.Add("acme/../x", "c1", "contact", "")
	db, err := Open(Options{InMemory: true})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = db.Close() })
	f.Fuzz(func(t *testing.T, tenantID, conn, typ, entity string) {
		tn, err := db.Tenant(tenantID)
		if err != nil {
			return
		}
		if checkID("c", conn) != nil || checkName("t", typ) != nil || checkEntity("e", entity) != nil {
			return
		}
		prefix := []byte("t/" + tenantID + "/")
		for _, k := range [][]byte{
			tn.key(kTypeIndex, conn, typ, entity),
			tn.prefixOf(kTypeIndex, conn, typ),
			tn.key(kEdge, conn, entity, typ, entity),
		} {
			if !bytes.HasPrefix(k, prefix) {
				t.Fatalf("key %q outside %q", k, prefix)
			}
		}
		k := tn.key(kTypeIndex, conn, typ, entity)
		parts := strings.Split(string(k), "/")
		want := []string{"t", tenantID, "oi", conn, typ, entity}
		if strings.Join(parts, "\x00") != strings.Join(want, "\x00") {
			t.Fatalf("key %q splits into %q, want %q", k, parts, want)
		}
		var a arena
		if ak := a.key(tn.prefix, kTypeIndex, conn, typ, entity); !bytes.Equal(ak, k) {
			t.Fatalf("arena key %q != key %q", ak, k)
		}
		if p := tn.prefixOf(kTypeIndex, conn, typ); !bytes.HasPrefix(k, p) || len(p) != len(k)-len(entity) {
			t.Fatalf("prefix %q does not cover key %q", p, k)
		}
	})
}

// FuzzIndexValue checks the hand-made type-index value: it is valid
// JSON, and sameDigest, seenBy and indexRun read back what was written.
func FuzzIndexValue(f *testing.F) {
	f.Add("abc123", "r1", "abc124", "r2")
	f.Add("sha256:00", "run-1", "sha256:0", "run-")
	f.Fuzz(func(t *testing.T, digest, run, otherDigest, otherRun string) {
		if checkDigest("d", digest) != nil || checkName("r", run) != nil {
			return
		}
		w := pageWriter{run: run}
		v := w.indexValue(digest)
		var decoded struct{ Digest, Run string }
		if err := unmarshal(v, &decoded); err != nil || decoded.Digest != digest || decoded.Run != run {
			t.Fatalf("index value %s decodes to %+v, %v", v, decoded, err)
		}
		if !sameDigest(v, digest) || !seenBy(v, run) || indexRun(v) != run {
			t.Fatalf("index value %s does not read back", v)
		}
		if otherDigest != digest && sameDigest(v, otherDigest) {
			t.Fatalf("sameDigest(%s, %q) = true", v, otherDigest)
		}
		if otherRun != run && seenBy(v, otherRun) {
			t.Fatalf("seenBy(%s, %q) = true", v, otherRun)
		}
	})
}

// FuzzObjectJSON checks that the hand-written object encoder writes
// exactly what encoding/json writes, and fails exactly when it fails.
func FuzzObjectJSON(f *testing.F) {
	f.Add("1001", `{"a": [1, 2.50, "<&>"]}`, "2024-01-01T00:00:00Z", "", int64(1735787045000000600), "r1")
	f.Add("weird \"id\"\n\u2028\xff", `{}`, "", "x\\y", int64(0), "r\x00")
	f.Add("x", `{"a":`, "", "", int64(-1), "")
	f.Add("x", ``, "", "", int64(1<<62), "é")
	f.Fuzz(func(t *testing.T, src, data, created, updated string, nanos int64, run string) {
		o := Object{
			EntityID: "9f5d029a-d0bc-5c3d-8c93-cfcf6cbee54e", Connection: "c1", Connector: "acme",
			Type: "contact", SourceID: src, Digest: "d1", CreatedAt: created, UpdatedAt: updated, RunID: run,
		}
		if data != "" {
			o.Data = []byte(data)
		}
		if nanos != 0 {
			o.ObservedAt = time.Unix(0, nanos).UTC()
		}
		want, wantErr := marshal(&o)
		var scratch bytes.Buffer
		got, gotErr := appendObject(nil, &o, &scratch)
		if (wantErr == nil) != (gotErr == nil) {
			t.Fatalf("encoding/json err %v, appendObject err %v", wantErr, gotErr)
		}
		if wantErr == nil && !bytes.Equal(got, want) {
			t.Fatalf("appendObject:\n%s\nencoding/json:\n%s", got, want)
		}
	})
}

// FuzzEntityIDMatches keeps the allocation-free check equal to EntityID.
func FuzzEntityIDMatches(f *testing.F) {
	f.Add("acme", "github", "repository", "1296269", "")
	f.Add("", "", "", "", "0dd68c3b-368d-5ae7-9d8f-ff3fe7919529")
	f.Fuzz(func(t *testing.T, tenant, connector, typ, src, other string) {
		id := EntityID(tenant, connector, typ, src)
		var scratch []byte
		if !entityIDMatches(&scratch, id, tenant, connector, typ, src) {
			t.Fatalf("entityIDMatches(EntityID(...)) = false for %q", id)
		}
		if other != id && entityIDMatches(&scratch, other, tenant, connector, typ, src) {
			t.Fatalf("entityIDMatches(%q) = true, EntityID is %q", other, id)
		}
	})
}
