package connector_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connectors-wasm/directory/connector"
	"github.com/sluicehq/sluice/guest-sdk/protocol"
	"github.com/sluicehq/sluice/guest-sdk/sdk"
	"github.com/sluicehq/sluice/guest-sdk/sdk/sdktest"
)

// drain syncs stream from cursor until has_more is false, like the host's
// sync loop, and returns the final cursor and the number of calls.
func drain(t *testing.T, tr *sdktest.Transport, base, stream, cursor string, pageSize int) (string, int) {
	t.Helper()
	for calls := 1; ; calls++ {
		if calls > 1000 {
			t.Fatal("sync never finished")
		}
		req := protocol.SyncRequest{Stream: stream, Cursor: cursor, PageSize: pageSize, Config: protocol.Config{connector.ConfigBaseURL: base}}
		resp, err := sdktest.Run[protocol.SyncResponse](context.Background(), connector.New(), tr, protocol.ExportSync, req)
		if err != nil {
			t.Fatalf("sync call %d: %v", calls, err)
		}
		cursor = resp.NextCursor
		if !resp.HasMore {
			return cursor, calls
		}
	}
}

func ids(objs []protocol.Object) []string {
	out := make([]string, len(objs))
	for i, o := range objs {
		out[i] = o.ID
	}
	return out
}

func TestSyncUsersSnapshotThenIncremental(t *testing.T) {
	f, base := newFakeRemote(t, 20, 2)
	tr := sdktest.New(sdktest.Config{Token: "test-token"})

	cursor, calls := drain(t, tr, base, connector.StreamUsers, "", 7)
	if calls != 3 {
		t.Fatalf("%d calls for 20 users in pages of 7, want 3", calls)
	}
	objs := tr.Objects()
	if len(objs) != 20 || objs[0].ID != "u-0000001" || objs[19].ID != "u-0000020" {
		t.Fatalf("snapshot emitted %v", ids(objs))
	}
	first := objs[0]
	var data map[string]any
	if err := json.Unmarshal(first.Data, &data); err != nil || data["email"] != "user1@example.test" || data["phone"] == nil {
		t.Fatalf("object data is not the raw remote record: %s", first.Data)
	}
	if first.Type != connector.TypeUser || first.CreatedAt != ts(0) || first.UpdatedAt != ts(30*time.Minute) {
		t.Fatalf("object header %+v", first)
	}
	// The last user's updated_at (users 19 and 20 share 9h30m) is the
	// incremental starting point.
	if want := `{"since":"` + ts(9*time.Hour+30*time.Minute) + `"}`; cursor != want {
		t.Fatalf("final cursor %s, want %s", cursor, want)
	}

	// Two updates and a remote deletion since the snapshot.
	f.touch(3, ts(100*time.Hour))
	f.touch(11, ts(101*time.Hour))
	f.tombstone(5, ts(102*time.Hour))
	tr.Reset()
	cursor, _ = drain(t, tr, base, connector.StreamUsers, cursor, 2)
	if got, want := ids(tr.Objects()), []string{"u-0000004", "u-0000006", "u-0000012"}; !slices.Equal(got, want) {
		t.Fatalf("incremental sync emitted %v, want %v", got, want)
	}
	if len(tr.Deletions()) != 0 {
		t.Fatal("a tombstone must be emitted as an update, not a deletion")
	}
	if want := `{"since":"` + ts(102*time.Hour) + `"}`; cursor != want {
		t.Fatalf("cursor after incremental %s, want %s", cursor, want)
	}

	// Nothing changed: nothing emitted, cursor kept.
	tr.Reset()
	if again, _ := drain(t, tr, base, connector.StreamUsers, cursor, 0); again != cursor || len(tr.Objects()) != 0 {
		t.Fatalf("idle sync emitted %d objects, cursor %s -> %s", len(tr.Objects()), cursor, again)
	}
	for _, q := range f.queries[len(f.queries)-3:] {
		if !containsParam(q, "updated_since") {
			t.Fatalf("incremental request %q without updated_since", q)
		}
	}
}

func containsParam(rawQuery, name string) bool {
	q, err := url.ParseQuery(rawQuery)
	return err == nil && q.Has(name)
}

func TestSyncGroupsAndMemberships(t *testing.T) {
	_, base := newFakeRemote(t, 5, 2)
	tr := sdktest.New(sdktest.Config{Token: "test-token"})

	cursor, _ := drain(t, tr, base, connector.StreamGroups, "", 1)
	if got := ids(tr.Objects()); !slices.Equal(got, []string{"g-00001", "g-00002"}) || tr.Objects()[0].Type != connector.TypeGroup {
		t.Fatalf("groups emitted %v", got)
	}
	if want := `{"since":"` + ts(time.Minute) + `"}`; cursor != want {
		t.Fatalf("groups cursor %s, want %s", cursor, want)
	}

	cursor, calls := drain(t, tr, base, connector.StreamMemberships, "", 2)
	if cursor != "" || calls != 3 {
		t.Fatalf("memberships ended with cursor %q after %d calls, want \"\" after 3", cursor, calls)
	}
	edges := tr.Edges()
	want := protocol.Edge{Type: connector.EdgeMemberOf, From: protocol.Ref{Type: "user", ID: "u-0000002"}, To: protocol.Ref{Type: "group", ID: "g-00002"}}
	if len(edges) != 5 || edges[1] != want {
		t.Fatalf("edges %+v, want 5 with edges[1] = %+v", edges, want)
	}
}

func TestSyncPageSize(t *testing.T) {
	f, base := newFakeRemote(t, 3, 1)
	tr := sdktest.New(sdktest.Config{Token: "test-token"})
	for _, tt := range []struct{ given, sent int }{{0, 500}, {-5, 500}, {10, 10}, {1000, 1000}, {5000, 1000}} {
		drain(t, tr, base, connector.StreamUsers, "", tt.given)
		if got := f.seenLimits(); got[len(got)-1] != tt.sent {
			t.Errorf("page size %d sent limit %d, want %d", tt.given, got[len(got)-1], tt.sent)
		}
	}
}

func TestBackfill(t *testing.T) {
	f, base := newFakeRemote(t, 30, 1)
	// The remote wrongly includes created_to; the connector must not.
	f.set(func(f *fakeRemote) { f.inclusiveTo = true })
	tr := sdktest.New(sdktest.Config{Token: "test-token"})
	rng := protocol.Range{From: ts(5 * time.Hour), To: ts(17 * time.Hour)}
	cursor, calls := "", 0
	for {
		calls++
		req := protocol.BackfillRequest{Stream: connector.StreamUsers, Range: rng, Cursor: cursor, PageSize: 4, Config: protocol.Config{connector.ConfigBaseURL: base}}
		resp, err := sdktest.Run[protocol.SyncResponse](context.Background(), connector.New(), tr, protocol.ExportBackfill, req)
		if err != nil {
			t.Fatal(err)
		}
		if cursor = resp.NextCursor; !resp.HasMore {
			break
		}
	}
	if calls != 4 || cursor != "" {
		t.Fatalf("%d calls, final cursor %q; want 4 calls (13 rows in pages of 4) and an empty cursor", calls, cursor)
	}
	var want []string
	for i := 6; i <= 17; i++ {
		want = append(want, fmt.Sprintf("u-%07d", i))
	}
	if got := ids(tr.Objects()); !slices.Equal(got, want) {
		t.Fatalf("backfill emitted %v, want %v", got, want)
	}
	if logs := tr.Logs(); len(logs) != 1 || logs[0].Level != protocol.LogWarn {
		t.Fatalf("logs %+v, want one warning about the skipped record", logs)
	}
}

func TestBackfillAndSyncErrors(t *testing.T) {
	f, base := newFakeRemote(t, 3, 1)
	cfg := protocol.Config{connector.ConfigBaseURL: base}
	okRange := protocol.Range{From: ts(0), To: ts(time.Hour)}
	tests := []struct {
		name    string
		export  string
		req     any
		remote  func(*fakeRemote)
		wantErr error
	}{
		{"no base_url", protocol.ExportSync, protocol.SyncRequest{Stream: "users"}, nil, connector.ErrConfig},
		{"relative base_url", protocol.ExportSync, protocol.SyncRequest{Stream: "users", Config: protocol.Config{connector.ConfigBaseURL: "/api"}}, nil, connector.ErrConfig},
		{"unknown stream", protocol.ExportSync, protocol.SyncRequest{Stream: "payroll", Config: cfg}, nil, connector.ErrUnknownStream},
		{"cursor not JSON", protocol.ExportSync, protocol.SyncRequest{Stream: "users", Cursor: "abc", Config: cfg}, nil, connector.ErrBadCursor},
		{"cursor bad time", protocol.ExportSync, protocol.SyncRequest{Stream: "users", Cursor: `{"since":"yesterday"}`, Config: cfg}, nil, connector.ErrBadCursor},
		{"incremental memberships", protocol.ExportSync, protocol.SyncRequest{Stream: "memberships", Cursor: `{"since":"2024-01-01T00:00:00Z"}`, Config: cfg}, nil, connector.ErrBadCursor},
		{"remote 500", protocol.ExportSync, protocol.SyncRequest{Stream: "users", Config: cfg}, func(f *fakeRemote) { f.status = 500 }, sdk.ErrHostRefused},
		{"has_more without cursor", protocol.ExportSync, protocol.SyncRequest{Stream: "users", PageSize: 1, Config: cfg}, func(f *fakeRemote) { f.brokenPaging = true }, connector.ErrBadRemote},
		{"backfill groups", protocol.ExportBackfill, protocol.BackfillRequest{Stream: "groups", Range: okRange, Config: cfg}, nil, connector.ErrNoBackfill},
		{"backfill unknown stream", protocol.ExportBackfill, protocol.BackfillRequest{Stream: "x", Range: okRange, Config: cfg}, nil, connector.ErrUnknownStream},
		{"backfill empty range", protocol.ExportBackfill, protocol.BackfillRequest{Stream: "users", Range: protocol.Range{From: ts(0), To: ts(0)}, Config: cfg}, nil, connector.ErrBadRange},
		{"backfill bad from", protocol.ExportBackfill, protocol.BackfillRequest{Stream: "users", Range: protocol.Range{From: "x", To: ts(0)}, Config: cfg}, nil, connector.ErrBadRange},
		{"backfill with sync cursor", protocol.ExportBackfill, protocol.BackfillRequest{Stream: "users", Range: okRange, Cursor: `{"since":"2024-01-01T00:00:00Z"}`, Config: cfg}, nil, connector.ErrBadCursor},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.set(func(f *fakeRemote) { f.status, f.brokenPaging = 0, false })
			if tt.remote != nil {
				f.set(tt.remote)
			}
			_, err := sdktest.Run[protocol.SyncResponse](context.Background(), connector.New(), sdktest.New(sdktest.Config{Token: "test-token"}), tt.export, tt.req)
			if tt.wantErr == sdk.ErrHostRefused { // stands for "the remote's status"
				if se := new(sdk.StatusError); !errors.As(err, &se) || se.Status != 500 || sdk.ErrorResponseOf(err).Type != sdk.ErrorTypeRemoteDown {
					t.Fatalf("err %v, want a StatusError 500 classified remote_unavailable", err)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err %v, want %v", err, tt.wantErr)
			}
		})
	}
}
