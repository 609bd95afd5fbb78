package defectbase_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/sluicehq/sluice/conformance/testdata/internal/defectbase"
	"github.com/sluicehq/sluice/guest-sdk/protocol"
	"github.com/sluicehq/sluice/guest-sdk/sdk"
	"github.com/sluicehq/sluice/guest-sdk/sdk/sdktest"
)

const directoryManifest = "../../../../connectors-wasm/directory/connector.json"

// remote serves n users created one hour apart from 2024-01-01, with
// offset cursors, and created_from/created_to as [from, to).
func remote(t *testing.T, n int) string {
	epoch := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		switch r.URL.Path {
		case "/api/v1/account":
			fmt.Fprint(w, `{"id":"acct-1","name":"X"}`)
			return
		case "/api/v1/health":
			fmt.Fprint(w, `{"status":"ok"}`)
			return
		case "/api/v1/memberships":
			fmt.Fprint(w, `{"data":[{"user_id":"u-1","group_id":"g-1","role":"member"}],"next_cursor":"","has_more":false}`)
			return
		}
		var rows []map[string]any
		for i := range n {
			created := epoch.Add(time.Duration(i) * time.Hour)
			if from := q.Get("created_from"); from != "" && created.Format(time.RFC3339) < from {
				continue
			}
			if to := q.Get("created_to"); to != "" && created.Format(time.RFC3339) >= to {
				continue
			}
			rows = append(rows, map[string]any{"id": fmt.Sprintf("u-%d", i+1), "email": "a@b.test", "created_at": created.Format(time.RFC3339), "updated_at": created.Format(time.RFC3339)})
		}
		limit, _ := strconv.Atoi(q.Get("limit"))
		start, _ := strconv.Atoi(q.Get("cursor"))
		end := min(start+limit, len(rows))
		next := ""
		if end < len(rows) {
			next = strconv.Itoa(end)
		}
		json.NewEncoder(w).Encode(map[string]any{"data": rows[start:end], "next_cursor": next, "has_more": next != ""})
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func manifest(t *testing.T) []byte {
	b, err := os.ReadFile(directoryManifest)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSyncBackfillAndHook(t *testing.T) {
	base := remote(t, 10)
	cfg := protocol.Config{"base_url": base}
	seen := []int{}
	c := defectbase.New(manifest(t), defectbase.Options{Object: func(i int, o protocol.Object) protocol.Object {
		seen = append(seen, i)
		return o
	}})
	tr := sdktest.New(sdktest.Config{})
	ctx := context.Background()

	resp, err := sdktest.Run[protocol.SyncResponse](ctx, c, tr, protocol.ExportSync, protocol.SyncRequest{Stream: "users", PageSize: 6, Config: cfg})
	if err != nil || !resp.HasMore || resp.NextCursor != "6" {
		t.Fatalf("first page %+v, %v", resp, err)
	}
	resp, err = sdktest.Run[protocol.SyncResponse](ctx, c, tr, protocol.ExportSync, protocol.SyncRequest{Stream: "users", PageSize: 6, Cursor: resp.NextCursor, Config: cfg})
	if err != nil || resp.HasMore || len(tr.Objects()) != 10 {
		t.Fatalf("second page %+v, %v, %d objects", resp, err, len(tr.Objects()))
	}
	if !reflect.DeepEqual(seen, []int{0, 1, 2, 3, 4, 5, 0, 1, 2, 3}) {
		t.Fatalf("hook saw page indexes %v", seen)
	}

	tr.Reset()
	rng := protocol.Range{From: "2024-01-01T02:00:00Z", To: "2024-01-01T05:00:00Z"}
	if _, err := sdktest.Run[protocol.SyncResponse](ctx, c, tr, protocol.ExportBackfill, protocol.BackfillRequest{Stream: "users", Range: rng, Config: cfg}); err != nil {
		t.Fatal(err)
	}
	if n := len(tr.Objects()); n != 3 {
		t.Fatalf("backfill emitted %d users, want 3", n)
	}

	tr.Reset()
	ignoring := defectbase.New(manifest(t), defectbase.Options{IgnoreRange: true})
	if _, err := sdktest.Run[protocol.SyncResponse](ctx, ignoring, tr, protocol.ExportBackfill, protocol.BackfillRequest{Stream: "users", Range: rng, Config: cfg}); err != nil {
		t.Fatal(err)
	}
	if n := len(tr.Objects()); n != 10 {
		t.Fatalf("IgnoreRange backfill emitted %d users, want all 10", n)
	}

	tr.Reset()
	if _, err := sdktest.Run[protocol.SyncResponse](ctx, c, tr, protocol.ExportSync, protocol.SyncRequest{Stream: "memberships", Config: cfg}); err != nil || len(tr.Edges()) != 1 {
		t.Fatalf("memberships: %v, %d edges", err, len(tr.Edges()))
	}
	auth, err := sdktest.Run[protocol.AuthorizeResponse](ctx, c, tr, protocol.ExportAuthorize, protocol.AuthorizeRequest{GrantedScopes: []string{"users:read"}, Config: cfg})
	if err != nil || auth.AccountID != "acct-1" || !reflect.DeepEqual(auth.NeededScopes, []string{"users:read"}) {
		t.Fatalf("authorize %+v, %v", auth, err)
	}
	health, err := sdktest.Run[protocol.HealthResponse](ctx, c, tr, protocol.ExportHealth, protocol.HealthRequest{Config: cfg})
	if err != nil || !health.Reachable {
		t.Fatalf("health %+v, %v", health, err)
	}
}

func TestErrors(t *testing.T) {
	ctx := context.Background()
	tr := sdktest.New(sdktest.Config{})
	c := defectbase.New(manifest(t), defectbase.Options{})
	cfg := protocol.Config{"base_url": "http://127.0.0.1:1"}
	for name, call := range map[string]struct {
		export string
		req    any
		want   error
	}{
		"no base_url":    {protocol.ExportSync, protocol.SyncRequest{Stream: "users"}, defectbase.ErrConfig},
		"unknown stream": {protocol.ExportSync, protocol.SyncRequest{Stream: "x", Config: cfg}, defectbase.ErrStream},
		"bad range":      {protocol.ExportBackfill, protocol.BackfillRequest{Stream: "users", Config: cfg}, defectbase.ErrRange},
		"backfill group": {protocol.ExportBackfill, protocol.BackfillRequest{Stream: "groups", Config: cfg}, defectbase.ErrStream},
	} {
		if _, err := sdktest.Run[protocol.SyncResponse](ctx, c, tr, call.export, call.req); !errors.Is(err, call.want) {
			t.Errorf("%s: err %v, want %v", name, err, call.want)
		}
	}
	bad := defectbase.New([]byte("{"), defectbase.Options{})
	if _, err := sdktest.Run[protocol.DiscoverResponse](ctx, bad, tr, protocol.ExportDiscover, nil); !errors.Is(err, defectbase.ErrManifest) {
		t.Fatalf("bad manifest: %v", err)
	}
	if _, err := sdk.Invoke(ctx, bad, tr, protocol.ExportSync, []byte(`{}`)); !errors.Is(err, sdk.ErrNotSupported) {
		t.Fatalf("bad manifest sync: %v", err)
	}
}

// TestDefectManifests holds every defect to the corpus rules: a package
// main with a connector.json that is the directory manifest with only id
// ("defect-<dir>"), name and description changed, and a discover that
// agrees with it.
func TestDefectManifests(t *testing.T) {
	var want map[string]any
	if err := json.Unmarshal(manifest(t), &want); err != nil {
		t.Fatal(err)
	}
	dirs, err := filepath.Glob("../../defects/*")
	if err != nil || len(dirs) < 11 {
		t.Fatalf("found %d defects (%v), want at least 11", len(dirs), err)
	}
	for _, dir := range dirs {
		name := filepath.Base(dir)
		t.Run(name, func(t *testing.T) {
			if _, err := os.Stat(filepath.Join(dir, "main.go")); err != nil {
				t.Fatal(err)
			}
			raw, err := os.ReadFile(filepath.Join(dir, "connector.json"))
			if err != nil {
				t.Fatal(err)
			}
			var m protocol.Manifest
			dec := json.NewDecoder(bytes.NewReader(raw))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&m); err != nil {
				t.Fatalf("not a manifest: %v", err)
			}
			if m.ID != "defect-"+name {
				t.Fatalf("id %q, want defect-%s", m.ID, name)
			}
			var got map[string]any
			if err := json.Unmarshal(raw, &got); err != nil {
				t.Fatal(err)
			}
			for _, k := range []string{"id", "name", "description"} {
				delete(got, k)
			}
			for k, v := range want {
				// Runbooks are the directory's own pages, not shipped in a
				// defect's bundle: the base fails observability.runbooks
				// by design (conformance/suite_test.go).
				if k == "id" || k == "name" || k == "description" || k == "runbooks" {
					continue
				}
				if !reflect.DeepEqual(got[k], v) {
					t.Errorf("field %s differs from the directory manifest", k)
				}
				delete(got, k)
			}
			if len(got) != 0 {
				t.Errorf("extra fields %v", got)
			}
			d, err := sdktest.Run[protocol.DiscoverResponse](context.Background(), defectbase.New(raw, defectbase.Options{}), sdktest.New(sdktest.Config{}), protocol.ExportDiscover, nil)
			if err != nil || d.ID != m.ID || !reflect.DeepEqual(generic(t, d.ObjectTypes), generic(t, m.ObjectTypes)) || !reflect.DeepEqual(d.Streams, m.Streams) {
				t.Fatalf("discover %+v, %v disagrees with the manifest", d.ID, err)
			}
		})
	}
}

// generic re-decodes v as plain JSON values, so that schemas compare by
// value and not by whitespace.
func generic(t *testing.T, v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}
