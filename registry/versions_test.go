package registry_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"testing"

	"github.com/sluicehq/sluice/guest-sdk/protocol"
	"github.com/sluicehq/sluice/registry"
)

// objectType returns the object type named name of m.
func objectType(t testing.TB, m *protocol.Manifest, name string) *protocol.ObjectType {
	for i := range m.ObjectTypes {
		if m.ObjectTypes[i].Name == name {
			return &m.ObjectTypes[i]
		}
	}
	t.Fatalf("no object type %q", name)
	return nil
}

// editSchema decodes an object type's schema, applies edit, encodes it.
func editSchema(t testing.TB, ot *protocol.ObjectType, edit func(s map[string]any)) {
	var s map[string]any
	if err := json.Unmarshal(ot.Schema, &s); err != nil {
		t.Fatal(err)
	}
	edit(s)
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	ot.Schema = b
}

func properties(s map[string]any) map[string]any { return s["properties"].(map[string]any) }

// TestVersioning walks the semver rules with the echo module, which
// discovers whatever manifest it is patched with: same version, minor
// versions that break each way, majors with and without migration.
func TestVersioning(t *testing.T) {
	ctx := context.Background()
	r := newRig(t)
	v1 := r.mustUpload("partner-a", echoBundle(t, echoManifest(t, "1.0.0", nil)))
	if v1.Connector != "echo-dir" {
		t.Fatalf("v1 = %+v", v1)
	}

	t.Run("same version same bytes", func(t *testing.T) {
		again := r.mustUpload("partner-a", echoBundle(t, echoManifest(t, "1.0.0", nil)))
		if again.UploadedAt != v1.UploadedAt || again.BundleDigest != v1.BundleDigest {
			t.Errorf("re-upload = %+v, want the stored %+v", again, v1)
		}
	})
	t.Run("same version other bytes", func(t *testing.T) {
		doc := echoManifest(t, "1.0.0", func(m *protocol.Manifest) { m.Description = "new words" })
		_, err := r.upload("partner-a", echoBundle(t, doc))
		if !errors.Is(err, registry.ErrConflict) || asError(t, err).Code != registry.CodeVersionConflict {
			t.Fatalf("err = %v, want a version conflict", err)
		}
	})

	breaking := []struct {
		name  string
		edit  func(t *testing.T, m *protocol.Manifest)
		want  registry.Change // Kind and the names; Against is 1.0.0
		field string          // the field error's pointer
	}{
		{"removed field", func(t *testing.T, m *protocol.Manifest) {
			ot := objectType(t, m, "user")
			editSchema(t, ot, func(s map[string]any) { delete(properties(s), "title") })
			delete(ot.Fields, "title")
		}, registry.Change{Kind: registry.RemovedField, ObjectType: "user", Field: "title"}, "connector.json#/object_types/0/schema/properties"},
		{"field left the allow-list", func(t *testing.T, m *protocol.Manifest) {
			delete(objectType(t, m, "group").Fields, "description")
		}, registry.Change{Kind: registry.RemovedField, ObjectType: "group", Field: "description"}, "connector.json#/object_types/1/fields"},
		{"changed type", func(t *testing.T, m *protocol.Manifest) {
			editSchema(t, objectType(t, m, "user"), func(s map[string]any) {
				properties(s)["is_admin"] = map[string]any{"type": "string"}
			})
		}, registry.Change{Kind: registry.ChangedType, ObjectType: "user", Field: "is_admin", Was: "boolean", Now: "string"}, "connector.json#/object_types/0/schema/properties/is_admin"},
		{"new required field", func(t *testing.T, m *protocol.Manifest) {
			editSchema(t, objectType(t, m, "group"), func(s map[string]any) {
				properties(s)["owner"] = map[string]any{"type": "string"}
				s["required"] = append(s["required"].([]any), "owner")
			})
			objectType(t, m, "group").Fields["owner"] = protocol.FieldPolicy{PII: protocol.PIINone}
		}, registry.Change{Kind: registry.NewRequiredField, ObjectType: "group", Field: "owner"}, "connector.json#/object_types/1/schema/required"},
		{"removed object type", func(t *testing.T, m *protocol.Manifest) {
			m.ObjectTypes = m.ObjectTypes[:1]
			m.Streams = m.Streams[:1]
			m.EdgeTypes = nil
		}, registry.Change{Kind: registry.RemovedObjectType, ObjectType: "group"}, "connector.json#/object_types"},
		{"removed stream", func(t *testing.T, m *protocol.Manifest) {
			m.Streams = slices.DeleteFunc(m.Streams, func(s protocol.Stream) bool { return s.Name == "groups" })
		}, registry.Change{Kind: registry.RemovedStream, Stream: "groups"}, "connector.json#/streams"},
		{"removed edge type", func(t *testing.T, m *protocol.Manifest) {
			m.EdgeTypes = nil
			m.Streams = m.Streams[:2]
		}, registry.Change{Kind: registry.RemovedEdgeType, EdgeType: "member_of"}, "connector.json#/edge_types"},
	}
	for _, tc := range breaking {
		t.Run("minor: "+tc.name, func(t *testing.T) {
			doc := echoManifest(t, "1.1.0", func(m *protocol.Manifest) { tc.edit(t, m) })
			_, err := r.upload("partner-a", echoBundle(t, doc))
			if !errors.Is(err, registry.ErrInvalid) {
				t.Fatalf("err = %v, want ErrInvalid", err)
			}
			e := asError(t, err)
			if e.Code != registry.CodeBreakingChange {
				t.Fatalf("code = %q, want %q: %v", e.Code, registry.CodeBreakingChange, err)
			}
			want := tc.want
			want.Against = "1.0.0"
			found := false
			for _, c := range e.BreakingChanges {
				c.Message = ""
				if c == want {
					found = true
				}
			}
			if !found {
				t.Errorf("breaking changes %+v lack %+v", e.BreakingChanges, want)
			}
			if !hasField(e, tc.field, registry.CodeBreakingChange, "") {
				t.Errorf("no field error at %s: %+v", tc.field, e.Errors)
			}
			if len(e.Errors) != len(e.BreakingChanges) {
				t.Errorf("%d field errors for %d breaking changes", len(e.Errors), len(e.BreakingChanges))
			}
		})
	}

	// Every breaking minor was refused: still one version.
	if vs, _ := r.reg.Versions(ctx, "echo-dir"); len(vs) != 1 {
		t.Fatalf("%d versions after refused minors, want 1", len(vs))
	}

	t.Run("compatible minor", func(t *testing.T) {
		doc := echoManifest(t, "1.1.0", func(m *protocol.Manifest) {
			ot := objectType(t, m, "group")
			editSchema(t, ot, func(s map[string]any) { properties(s)["email"] = map[string]any{"type": "string"} })
			ot.Fields["email"] = protocol.FieldPolicy{PII: protocol.PIIContact}
		})
		v := r.mustUpload("partner-a", echoBundle(t, doc))
		if c, _ := r.reg.Connector(ctx, "echo-dir"); c.Latest != "1.1.0" || v.Version != "1.1.0" {
			t.Errorf("latest = %q after 1.1.0", c.Latest)
		}
	})

	// 2.0.0 drops the groups; it is compared with 1.1.0, the highest
	// earlier version.
	dropGroups := func(m *protocol.Manifest) {
		m.ObjectTypes, m.Streams, m.EdgeTypes = m.ObjectTypes[:1], m.Streams[:1], nil
	}
	t.Run("major without migration", func(t *testing.T) {
		_, err := r.upload("partner-a", echoBundle(t, echoManifest(t, "2.0.0", dropGroups)))
		e := asError(t, err)
		if !errors.Is(err, registry.ErrInvalid) || e.Code != registry.CodeMigrationRequired || len(e.BreakingChanges) == 0 {
			t.Fatalf("err = %v, want migration_required with its changes", err)
		}
		if e.BreakingChanges[0].Against != "1.1.0" {
			t.Errorf("compared against %s, want 1.1.0", e.BreakingChanges[0].Against)
		}
	})
	t.Run("major with migration from the wrong major", func(t *testing.T) {
		doc := echoManifest(t, "2.0.0", func(m *protocol.Manifest) {
			dropGroups(m)
			m.Migration = &protocol.Migration{From: "0", Notes: "Groups moved to the groups connector."}
		})
		_, err := r.upload("partner-a", echoBundle(t, doc))
		e := asError(t, err)
		if !errors.Is(err, registry.ErrInvalid) || !hasField(e, "connector.json#/migration/from", registry.CodeInvalidMigration, "major 1") {
			t.Fatalf("err = %v, want invalid_migration at migration/from", err)
		}
	})
	t.Run("major with migration", func(t *testing.T) {
		doc := echoManifest(t, "2.0.0", func(m *protocol.Manifest) {
			dropGroups(m)
			m.Migration = &protocol.Migration{From: "1.1.0", Notes: "Groups moved to the groups connector."}
		})
		v := r.mustUpload("partner-a", echoBundle(t, doc))
		if v.Spec.Migration == nil || v.Spec.Migration.From != "1.1.0" {
			t.Errorf("stored migration = %+v", v.Spec.Migration)
		}
	})
	t.Run("back-ported patch must not have what the next minor dropped", func(t *testing.T) {
		// 1.0.1 is compared with 1.0.0 (fine: it adds a field) and with
		// 1.1.0, which lacks that field.
		doc := echoManifest(t, "1.0.1", func(m *protocol.Manifest) {
			ot := objectType(t, m, "user")
			editSchema(t, ot, func(s map[string]any) { properties(s)["nickname"] = map[string]any{"type": "string"} })
			ot.Fields["nickname"] = protocol.FieldPolicy{PII: protocol.PIIIdentifier}
		})
		_, err := r.upload("partner-a", echoBundle(t, doc))
		e := asError(t, err)
		if e.Code != registry.CodeBreakingChange || len(e.BreakingChanges) == 0 || e.BreakingChanges[0].Against != "1.1.0" ||
			e.BreakingChanges[0].Field != "nickname" {
			t.Fatalf("err = %v (%+v), want 1.1.0 to break against the back-port", err, e.BreakingChanges)
		}
	})
	t.Run("other partner", func(t *testing.T) {
		_, err := r.upload("partner-b", echoBundle(t, echoManifest(t, "3.0.0", nil)))
		if !errors.Is(err, registry.ErrForbidden) {
			t.Fatalf("err = %v, want ErrForbidden", err)
		}
	})

	vs, err := r.reg.Versions(ctx, "echo-dir")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, v := range vs {
		got = append(got, v.Version)
	}
	if !slices.Equal(got, []string{"1.0.0", "1.1.0", "2.0.0"}) {
		t.Errorf("versions = %v, want 1.0.0 1.1.0 2.0.0", got)
	}
	if c, _ := r.reg.Connector(ctx, "echo-dir"); c.Latest != "2.0.0" || c.Owner != "partner-a" {
		t.Errorf("connector = %+v", c)
	}
	// Every version loads and discovers its own manifest: the modules
	// are distinct and stored by digest.
	digests := map[string]bool{}
	for _, v := range vs {
		mod, err := r.newRegistry().Load(ctx, "echo-dir", v.Version)
		if err != nil {
			t.Fatalf("Load %s: %v", v.Version, err)
		}
		d, err := r.eng.Discover(ctx, mod)
		if err != nil || d.Version != v.Version {
			t.Errorf("Load %s discovers %q, %v", v.Version, d.Version, err)
		}
		digests[v.Digest] = true
	}
	if len(digests) != 3 {
		t.Errorf("%d distinct module digests for 3 versions", len(digests))
	}
}
