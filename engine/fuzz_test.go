package engine

import (
	"errors"
	"testing"

	"github.com/sluicehq/sluice/guest-sdk/protocol"
)

// Every JSON message the host decodes from a module: outputs of each
// export and the Extism error text. None may panic; each either decodes
// or is a CallError of kind ErrBadOutput.
func FuzzDecodeModuleOutput(f *testing.F) {
	for _, s := range []string{
		`{"next_cursor":"abc","has_more":true}`, `{"account_id":"a","needed_scopes":["x"]}`,
		`{"reachable":true,"details":{"k":"v"}}`, `{"id":"d","version":"1.0.0","types":["ingest_pull"]}`,
		`{}{}`, `[`, `null`, `{"type":"auth","message":"no"}`, "\x00\xff",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, out []byte) {
		targets := []any{&protocol.SyncResponse{}, &protocol.AuthorizeResponse{}, &protocol.HealthResponse{}, &protocol.DiscoverResponse{}}
		for _, v := range targets {
			err := decodeOutput("x", out, v)
			var ce *CallError
			if err != nil && (!errors.As(err, &ce) || !errors.Is(err, ErrBadOutput)) {
				t.Fatalf("decodeOutput error %v is not a bad-output CallError", err)
			}
		}
		ge := guestError("sync", string(out))
		if !errors.Is(ge, ErrGuest) || ge.Detail == "" && len(out) > 0 && ge.GuestType == "" {
			t.Fatalf("guestError(%q) = %+v", out, ge)
		}
		_ = trapReason(string(out))
	})
}

func TestGuestErrorReadsTheABIConvention(t *testing.T) {
	ge := guestError("sync", `{"type":"remote_error","message":"listing users: 500"}`)
	if ge.GuestType != "remote_error" || ge.Detail != "listing users: 500" {
		t.Fatalf("guestError = %+v", ge)
	}
	plain := guestError("sync", "boom")
	if plain.GuestType != "" || plain.Detail != "boom" {
		t.Fatalf("plain guestError = %+v", plain)
	}
}

func TestTrapReasonPicksTheRuntimeLine(t *testing.T) {
	got := trapReason("goroutine 1 [running]:\nfatal error: out of memory\n\nruntime stack:\nmain.f()\n\t/x.go:3")
	if got != "fatal error: out of memory" {
		t.Fatalf("trapReason = %q", got)
	}
}
