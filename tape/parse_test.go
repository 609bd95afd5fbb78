package tape_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/guest-sdk/protocol"
	"github.com/sluicehq/sluice/tape"
)

// oneCall is a dead-letter item's tape: one failing call that carries its
// own clock and seed, and the manifest.
func oneCall() tape.Tape {
	s := sample()
	c := s.Calls[0]
	c.Clock = time.Date(2026, 11, 25, 12, 0, 3, 0, time.UTC)
	c.Seed = "5eed000000000000000000000000000000000000000000000000000000000002"
	c.Logs = []string{"9a271f2a916b0b6ee6cecb2426f0b3206ef074578be55d9bc94f6f3fe3ab86aa"}
	c.Output, c.Error = "", "sync: connector error: GET /api/v1/users: status 500"
	c.Exchanges[0].Response = protocol.HTTPResponse{Status: 500, Body: []byte(`{"title":"injected fault"}`)}
	s.Clock, s.Seed = c.Clock, c.Seed
	s.Manifest = json.RawMessage(`{"id":"directory","version":"1.0.0"}`)
	s.Calls = []tape.Call{c}
	return s
}

func TestOneCallTapeGolden(t *testing.T) {
	got, err := json.MarshalIndent(oneCall(), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	const path = "testdata/tape-v2-call.golden.json"
	if *update {
		if err := os.WriteFile(path, append(got, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(bytes.TrimSpace(got), bytes.TrimSpace(want)) {
		t.Fatalf("one-call tape encoding changed; if intended, run with -update\n got: %s", got)
	}
	back, err := tape.Parse(want)
	if err != nil {
		t.Fatal(err)
	}
	var man bytes.Buffer
	if err := json.Compact(&man, back.Manifest); err != nil {
		t.Fatal(err)
	}
	if c := back.Calls[0]; !c.Clock.Equal(oneCall().Calls[0].Clock) || c.Seed != oneCall().Calls[0].Seed || man.String() != `{"id":"directory","version":"1.0.0"}` {
		t.Fatalf("round trip lost the call's clock, seed or manifest: %+v", back)
	}
}

// Both formats parse: a version 1 tape recorded before minimisation
// still replays.
func TestParseGolden(t *testing.T) {
	for _, c := range []struct {
		path      string
		version   int
		minimised int
	}{{"testdata/tape-v1.golden.json", 1, 0}, {"testdata/tape-v2.golden.json", 2, 1}} {
		b, err := os.ReadFile(c.path)
		if err != nil {
			t.Fatal(err)
		}
		tp, err := tape.Parse(b)
		if err != nil {
			t.Fatalf("Parse(%s): %v", c.path, err)
		}
		if len(tp.Calls) != 1 || tp.Calls[0].Exchanges[0].Response.Status != 200 || tp.Version != c.version || tp.Calls[0].Minimised != c.minimised {
			t.Fatalf("%s parsed %+v", c.path, tp)
		}
	}
	b, err := os.ReadFile("testdata/tape-v2.golden.json")
	if err != nil {
		t.Fatal(err)
	}
	tp, err := tape.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if got := tp.Fields["user"]; len(got) != 3 || got[0] != "department" {
		t.Fatalf("fields = %v", tp.Fields)
	}
	seed, err := tape.DecodeSeed(tp.Seed)
	if err != nil || seed[0] != 0x5e || seed[31] != 0x01 {
		t.Fatalf("DecodeSeed = %x, %v", seed, err)
	}
}

func TestParseRejects(t *testing.T) {
	good, err := json.Marshal(oneCall())
	if err != nil {
		t.Fatal(err)
	}
	edit := func(f func(m map[string]any)) string {
		var m map[string]any
		if err := json.Unmarshal(good, &m); err != nil {
			t.Fatal(err)
		}
		f(m)
		b, _ := json.Marshal(m)
		return string(b)
	}
	call := func(m map[string]any) map[string]any { return m["calls"].([]any)[0].(map[string]any) }
	cases := []struct{ name, in, field string }{
		{"empty", ``, ""},
		{"array", `[]`, ""},
		{"trailing", string(good) + `{}`, ""},
		{"unknown field", edit(func(m map[string]any) { m["secret"] = "x" }), ""},
		{"version", edit(func(m map[string]any) { m["version"] = 3 }), "version"},
		{"version 0", edit(func(m map[string]any) { m["version"] = 0 }), "version"},
		{"v1 with fields", edit(func(m map[string]any) { m["version"] = 1 }), "version"},
		{"negative minimised", edit(func(m map[string]any) { call(m)["minimised"] = -1 }), "calls[0].minimised"},
		{"empty refused type", edit(func(m map[string]any) { call(m)["refused"] = []string{""} }), "calls[0].refused[0]"},
		{"seed", edit(func(m map[string]any) { m["seed"] = "zz" }), "seed"},
		{"call seed", edit(func(m map[string]any) { call(m)["seed"] = strings.Repeat("A", 64) }), "calls[0].seed"},
		{"no export", edit(func(m map[string]any) { call(m)["export"] = "" }), "calls[0].export"},
		{"emit digest", edit(func(m map[string]any) { call(m)["emits"] = []string{"abc"} }), "calls[0].emits[0]"},
		{"log digest", edit(func(m map[string]any) { call(m)["logs"] = []string{strings.Repeat("g", 64)} }), "calls[0].logs[0]"},
		{"output digest", edit(func(m map[string]any) { call(m)["output"] = "x" }), "calls[0].output"},
		{"no method", edit(func(m map[string]any) {
			call(m)["exchanges"].([]any)[0].(map[string]any)["request"].(map[string]any)["method"] = ""
		}), "calls[0].exchanges[0].request.method"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := tape.Parse([]byte(c.in))
			var fe *tape.FormatError
			if !errors.Is(err, tape.ErrInvalid) || !errors.As(err, &fe) || fe.Field != c.field {
				t.Fatalf("Parse = %v, want a FormatError on %q", err, c.field)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	for _, p := range []string{"testdata/tape-v1.golden.json", "testdata/tape-v1-call.golden.json", "testdata/tape-v2.golden.json", "testdata/tape-v2-call.golden.json"} {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"version":1,"calls":[{"export":"sync","input":null}]}`))
	f.Add([]byte(`{"version":1,"calls":[{"export":"sync","emits":["x"]}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		tp, err := tape.Parse(b)
		if err != nil {
			if !errors.Is(err, tape.ErrInvalid) {
				t.Fatalf("error %v does not match ErrInvalid", err)
			}
			return
		}
		// What Parse accepts re-encodes to a tape Parse accepts again.
		again, err := json.Marshal(tp)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tape.Parse(again); err != nil {
			t.Fatalf("re-encoded tape refused: %v\n%s", err, again)
		}
	})
}
