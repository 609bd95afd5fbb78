package store

import (
	"context"
	"fmt"
	"slices"
	"testing"
)

// listFixture: c1 has 7 contacts and 3 companies, c2 has 4 contacts;
// edges: each c1 contact knows the next one, and works at company i%3.
func listFixture(t *testing.T) (*Tenant, map[string][]string) {
	db := openDB(t)
	tn := tenant(t, db, "acme")
	want := map[string][]string{}
	var c1, companies, c2 []Object
	for i := range 7 {
		c1 = append(c1, obj(tn, "contact", fmt.Sprint("c1-", i), `{}`))
	}
	for i := range 3 {
		companies = append(companies, obj(tn, "company", fmt.Sprint("co-", i), `{}`))
	}
	for i := range 4 {
		c2 = append(c2, obj(tn, "contact", fmt.Sprint("c2-", i), `{}`))
	}
	var edges []Edge
	for i := range c1 {
		if i+1 < len(c1) {
			edges = append(edges, edge(c1[i], c1[i+1], "knows"))
		}
		edges = append(edges, edge(c1[i], companies[i%3], "works_at"))
	}
	commit(t, tn, Page{Connection: "c1", Run: run("r1", "c1"), Objects: append(slices.Clone(c1), companies...), Edges: edges})
	commit(t, tn, Page{Connection: "c2", Run: run("q1", "c2"), Objects: c2})
	ids := func(objs ...[]Object) []string {
		var out []string
		for _, l := range objs {
			for _, o := range l {
				out = append(out, o.EntityID)
			}
		}
		slices.Sort(out)
		return out
	}
	want["c1/contact"] = ids(c1)
	want["c1/"] = ids(c1, companies)
	want["c2/contact"] = ids(c2)
	want["/"] = ids(c1, companies, c2)
	for _, e := range edges {
		want["edges"] = append(want["edges"], e.From+"/"+e.Type+"/"+e.To)
		if e.Type == "works_at" {
			want["edges/works_at"] = append(want["edges/works_at"], e.From+"/"+e.Type+"/"+e.To)
		}
	}
	slices.Sort(want["edges"])
	slices.Sort(want["edges/works_at"])
	return tn, want
}

func TestObjectsPagination(t *testing.T) {
	tn, want := listFixture(t)
	ctx := context.Background()
	tests := []struct {
		conn, typ string
		want      string
	}{
		{"c1", "contact", "c1/contact"},
		{"c1", "", "c1/"},
		{"c2", "contact", "c2/contact"},
		{"", "", "/"},
	}
	for _, tt := range tests {
		for _, limit := range []int{1, 2, 3, 7, 100} {
			var got []string
			pages, after := 0, ""
			for {
				objs, next, err := tn.Objects(ctx, ListOptions{Connection: tt.conn, Type: tt.typ, After: after, Limit: limit})
				if err != nil {
					t.Fatalf("%s limit %d: %v", tt.want, limit, err)
				}
				if len(objs) > limit || (next != "" && len(objs) != limit) {
					t.Fatalf("%s limit %d: page of %d, next %q", tt.want, limit, len(objs), next)
				}
				for _, o := range objs {
					got = append(got, o.EntityID)
					if (tt.conn != "" && o.Connection != tt.conn) || (tt.typ != "" && o.Type != tt.typ) {
						t.Errorf("%s: object %+v does not match the filter", tt.want, o)
					}
				}
				pages++
				if next == "" {
					break
				}
				after = next
			}
			if !slices.Equal(got, want[tt.want]) {
				t.Errorf("%s limit %d: got %d ids %v\nwant %v", tt.want, limit, len(got), got, want[tt.want])
			}
			if wantPages := max(1, (len(want[tt.want])+limit-1)/limit); pages != wantPages {
				t.Errorf("%s limit %d: %d pages, want %d (no empty trailing page)", tt.want, limit, pages, wantPages)
			}
		}
	}
	n, err := tn.CountObjects(ctx, "c1", "contact")
	if err != nil || n != 7 {
		t.Errorf("CountObjects(c1, contact) = %d, %v", n, err)
	}
	if n, _ := tn.CountObjects(ctx, "c1", ""); n != 10 {
		t.Errorf("CountObjects(c1) = %d, want 10", n)
	}
	if n, _ := tn.CountObjects(ctx, "", ""); n != 14 {
		t.Errorf("CountObjects() = %d, want 14", n)
	}
	if n, _ := tn.CountObjects(ctx, "c3", ""); n != 0 {
		t.Errorf("CountObjects(c3) = %d, want 0", n)
	}
}

func TestEdgesPagination(t *testing.T) {
	tn, want := listFixture(t)
	ctx := context.Background()
	for _, tt := range []struct{ conn, typ, want string }{
		{"c1", "", "edges"}, {"", "", "edges"}, {"c1", "works_at", "edges/works_at"},
	} {
		for _, limit := range []int{1, 4, 13, 1000} {
			var got []string
			after := ""
			for {
				edges, next, err := tn.Edges(ctx, ListOptions{Connection: tt.conn, Type: tt.typ, After: after, Limit: limit})
				if err != nil {
					t.Fatal(err)
				}
				if next != "" && len(edges) != limit {
					t.Fatalf("short page of %d with next %q", len(edges), next)
				}
				for _, e := range edges {
					got = append(got, e.From+"/"+e.Type+"/"+e.To)
				}
				if next == "" {
					break
				}
				after = next
			}
			if !slices.Equal(got, want[tt.want]) {
				t.Errorf("%+v limit %d: got %d edges, want %d", tt, limit, len(got), len(want[tt.want]))
			}
		}
	}
	if edges, _, _ := tn.Edges(ctx, ListOptions{Connection: "c2"}); len(edges) != 0 {
		t.Errorf("c2 has %d edges, want 0", len(edges))
	}
}

func TestClampLimit(t *testing.T) {
	for in, want := range map[int]int{-1: 100, 0: 100, 1: 1, 1000: 1000, 1001: 1000} {
		if got := clampLimit(in); got != want {
			t.Errorf("clampLimit(%d) = %d, want %d", in, got, want)
		}
	}
}
