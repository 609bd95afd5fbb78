package hostfns

import (
	"strings"
	"testing"
)

// A type the ingest policy refused is rejected with ReasonPolicy: its
// objects, its deletions and every edge that points at it, while the
// allowed types of the same batch are kept.
func TestEmitRefusedTypes(t *testing.T) {
	e := newTestEmitter(t, func(c *EmitConfig) { c.Refused = []string{"org"} })
	res := emitJSON(t, e, `{
		"objects": [{"type":"user","id":"u1","data":{"email":"a@example.test"}}, {"type":"org","id":"o1","data":{"name":"Acme"}}],
		"edges": [{"type":"member_of","from":{"type":"user","id":"u1"},"to":{"type":"org","id":"o1"}}],
		"deletions": [{"type":"org","id":"o2"}, {"type":"user","id":"u2"}]
	}`)
	if res.Accepted != 2 || len(res.Rejected) != 3 {
		t.Fatalf("result %+v, want the user and its deletion kept, 3 refusals", res)
	}
	for _, rej := range res.Rejected {
		if !strings.HasPrefix(rej.Reason, ReasonPolicy+": ") {
			t.Errorf("rejection %+v is not a policy refusal", rej)
		}
	}
	got := e.Take()
	if len(got.Objects) != 1 || got.Objects[0].Type != "user" || len(got.Edges) != 0 || len(got.Deletions) != 1 {
		t.Fatalf("took %+v", got)
	}

	// Without refusals the same batch is accepted whole.
	if res := emitJSON(t, newTestEmitter(t, nil), `{"objects":[{"type":"org","id":"o1","data":{"name":"Acme"}}]}`); res.Accepted != 1 {
		t.Fatalf("an org was refused without a policy: %+v", res)
	}
}
