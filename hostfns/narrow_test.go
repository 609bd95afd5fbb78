package hostfns

import (
	"strings"
	"testing"
)

// A connection's narrowed allow-list drops fields the manifest allows,
// counts them as dropped, and never widens the manifest's list.
func TestEmitNarrowedAllowList(t *testing.T) {
	batch := `{"objects":[{"type":"user","id":"u1","data":{"email":"ann@example.com","name":"Ann","age":30,"z":"zz"}}]}`
	for _, tc := range []struct {
		name    string
		narrow  map[string][]string
		want    string
		dropped int
	}{
		{"none", nil, `{"age":30,"email":"ann@example.com","name":"Ann"}`, 1},
		{"narrowed", map[string][]string{"user": {"email", "name"}}, `{"email":"ann@example.com","name":"Ann"}`, 2},
		{"cannot widen", map[string][]string{"user": {"email", "z"}}, `{"email":"ann@example.com"}`, 3},
		{"other type", map[string][]string{"org": {"name"}}, `{"age":30,"email":"ann@example.com","name":"Ann"}`, 1},
		{"empty list keeps nothing", map[string][]string{"user": {}}, `{}`, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newTestEmitter(t, func(c *EmitConfig) { c.Narrow = tc.narrow })
			res := emitJSON(t, e, batch)
			got := e.Take()
			if res.Accepted != 1 || len(got.Objects) != 1 {
				t.Fatalf("result %+v", res)
			}
			if string(got.Objects[0].Data) != tc.want {
				t.Errorf("data %s, want %s", got.Objects[0].Data, tc.want)
			}
			if got.Dropped != tc.dropped {
				t.Errorf("dropped %d, want %d", got.Dropped, tc.dropped)
			}
		})
	}
}

// The schema sees the data before the narrowing: narrowing away a
// required field does not make valid objects invalid.
func TestEmitNarrowAfterSchema(t *testing.T) {
	e := newTestEmitter(t, func(c *EmitConfig) { c.Narrow = map[string][]string{"user": {"name"}} })
	res := emitJSON(t, e, `{"objects":[{"type":"user","id":"u1","data":{"email":"ann@example.com","name":"Ann"}}]}`)
	got := e.Take()
	if res.Accepted != 1 || len(got.Objects) != 1 {
		t.Fatalf("result %+v", res)
	}
	if strings.Contains(string(got.Objects[0].Data), "ann@example.com") {
		t.Errorf("narrowed field kept: %s", got.Objects[0].Data)
	}
}
