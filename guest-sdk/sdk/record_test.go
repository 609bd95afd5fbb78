package sdk_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/sluicehq/sluice/guest-sdk/protocol"
	"github.com/sluicehq/sluice/guest-sdk/sdk"
)

func TestObjectFromRecord(t *testing.T) {
	tests := []struct {
		name   string
		record string
		keys   sdk.RecordKeys
		want   protocol.Object
		err    bool
	}{
		{"defaults", `{"id":"u-1","created_at":"2024-01-01T00:00:00Z","updated_at":"2024-02-01T00:00:00Z","x":[1]}`, sdk.RecordKeys{},
			protocol.Object{Type: "user", ID: "u-1", CreatedAt: "2024-01-01T00:00:00Z", UpdatedAt: "2024-02-01T00:00:00Z"}, false},
		{"numeric id, no timestamps", `{"id":1234}`, sdk.RecordKeys{}, protocol.Object{Type: "user", ID: "1234"}, false},
		{"custom keys", `{"uuid":"a-b","inserted":"t1","modified":"t2","id":"ignored"}`, sdk.RecordKeys{ID: "uuid", CreatedAt: "inserted", UpdatedAt: "modified"},
			protocol.Object{Type: "user", ID: "a-b", CreatedAt: "t1", UpdatedAt: "t2"}, false},
		{"missing id", `{"name":"x"}`, sdk.RecordKeys{}, protocol.Object{}, true},
		{"null id", `{"id":null}`, sdk.RecordKeys{}, protocol.Object{}, true},
		{"object id", `{"id":{"v":1}}`, sdk.RecordKeys{}, protocol.Object{}, true},
		{"not an object", `["u-1"]`, sdk.RecordKeys{}, protocol.Object{}, true},
		{"truncated", `{"id":"u-1"`, sdk.RecordKeys{}, protocol.Object{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := sdk.ObjectFromRecord("user", json.RawMessage(tt.record), tt.keys)
			if tt.err {
				if !errors.Is(err, sdk.ErrBadRecord) {
					t.Fatalf("err = %v, want ErrBadRecord", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.want.Data = json.RawMessage(tt.record)
			if got.Type != tt.want.Type || got.ID != tt.want.ID || got.CreatedAt != tt.want.CreatedAt || got.UpdatedAt != tt.want.UpdatedAt || string(got.Data) != tt.record {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func BenchmarkObjectFromRecord(b *testing.B) {
	rec := json.RawMessage(`{"id":"u-0000001","email":"ada@example.com","name":"Ada Lovelace","department":"Engineering","title":"Analyst","status":"active","created_at":"2024-01-01T00:00:00Z","updated_at":"2024-05-01T10:00:00Z","mfa_enrolled":true,"is_admin":false,"last_login_at":"2024-05-02T08:00:00Z","phone":"+44 20 7946 0000"}`)
	b.SetBytes(int64(len(rec)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := sdk.ObjectFromRecord("user", rec, sdk.RecordKeys{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkUnmarshalRecord(b *testing.B) {
	rec := json.RawMessage(`{"id":"u-0000001","email":"ada@example.com","name":"Ada Lovelace","department":"Engineering","title":"Analyst","status":"active","created_at":"2024-01-01T00:00:00Z","updated_at":"2024-05-01T10:00:00Z","mfa_enrolled":true,"is_admin":false,"last_login_at":"2024-05-02T08:00:00Z","phone":"+44 20 7946 0000"}`)
	b.SetBytes(int64(len(rec)))
	b.ReportAllocs()
	for b.Loop() {
		var r struct {
			ID        string `json:"id"`
			CreatedAt string `json:"created_at"`
			UpdatedAt string `json:"updated_at"`
		}
		if err := json.Unmarshal(rec, &r); err != nil {
			b.Fatal(err)
		}
	}
}

func TestRawMembersAndElements(t *testing.T) {
	body := []byte(`{"data":[{"id":"u-1"}, {"id":"u-2"}],"next_cursor":"abc","has_more":true,"data2":1}`)
	v, err := sdk.RawMembers(body, "data", "next_cursor", "has_more", "absent")
	if err != nil {
		t.Fatal(err)
	}
	if string(v[1]) != `"abc"` || string(v[2]) != "true" || v[3] != nil {
		t.Fatalf("members %q", v)
	}
	items, err := sdk.RawElements(v[0])
	if err != nil || len(items) != 2 || string(items[1]) != `{"id":"u-2"}` {
		t.Fatalf("elements %q, %v", items, err)
	}
	if items, err := sdk.RawElements(v[3]); err != nil || items != nil {
		t.Fatalf("elements of an absent member: %q, %v", items, err)
	}
	for _, bad := range []string{`[1,2]`, `{"data":`, `{"a":1} x`} {
		if _, err := sdk.RawMembers([]byte(bad), "a"); !errors.Is(err, sdk.ErrBadJSON) {
			t.Errorf("RawMembers(%s) err = %v, want ErrBadJSON", bad, err)
		}
	}
	for _, bad := range []string{`{}`, `[1,`, `[1] 2`, `"x"`} {
		if _, err := sdk.RawElements([]byte(bad)); !errors.Is(err, sdk.ErrBadJSON) {
			t.Errorf("RawElements(%s) err = %v, want ErrBadJSON", bad, err)
		}
	}
}
