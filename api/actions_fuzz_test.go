package api

import (
	"errors"
	"testing"
)

// FuzzActionSubmitBody feeds arbitrary bodies to the decoding and
// validation of POST …/actions: never a panic, every refusal a 4xx
// problem naming a field, and an accepted body always has an action and
// a TTL that is not negative.
func FuzzActionSubmitBody(f *testing.F) {
	for _, s := range []string{
		`{"action":"grant_group","params":{"user_id":"u-1","group_id":"g-1"},"ttl":3600}`,
		`{"action":"grant_group","ttl":"90m"}`,
		`{"action":"revoke_group","params":null}`,
		`{"action":"","ttl":-1}`,
		`{"action":"x","ttl":1e400}`,
		`{"action":"x","ttl":"-5s"}`,
		`{"action":"x","params":[1,2]}`,
		`{"action":"x","force":true}`,
		`{"action":"x"} {}`,
		`[]`, `null`, ``, `{"ttl":"9223372036854775807s"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var req ActionSubmit
		err := decodeJSON(body, &req, false)
		if err == nil {
			err = req.validate()
		}
		if err != nil {
			p := classify(err)
			if p.Status < 400 || p.Status >= 500 {
				t.Fatalf("status %d for %q: %v", p.Status, body, err)
			}
			var ve *ValidationError
			if !errors.As(err, &ve) && len(p.Fields) == 0 {
				t.Fatalf("refusal names no field for %q: %v", body, err)
			}
			return
		}
		if req.Action == "" || req.ttl < 0 {
			t.Fatalf("accepted %q as action %q ttl %v", body, req.Action, req.ttl)
		}
	})
}
