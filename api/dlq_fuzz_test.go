package api

import (
	"errors"
	"net/http"
	"testing"
)

func FuzzDLQReplayBody(f *testing.F) {
	for _, s := range []string{`{"mode":"tape"}`, `{"mode":"live"}`, `{"mode":1}`, `{"mode":"tape","x":[]}`, `[]`, ``, `{"mode":"\u0000"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var req DLQReplayRequest
		err := decodeJSON(b, &req, false)
		if err == nil {
			err = req.validate()
		}
		if err == nil {
			if req.Mode != "tape" && req.Mode != "live" {
				t.Fatalf("accepted mode %q", req.Mode)
			}
			return
		}
		if p := classify(err); p.Status != http.StatusBadRequest && p.Status != http.StatusUnprocessableEntity {
			t.Fatalf("body %q: status %d, want 400 or 422", b, p.Status)
		}
		var ve *ValidationError
		var se *StatusError
		if !errors.As(err, &ve) && !errors.As(err, &se) {
			t.Fatalf("body %q: untyped error %v", b, err)
		}
	})
}
