package tape_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"testing"
	"time"

	"github.com/sluicehq/sluice/guest-sdk/protocol"
	"github.com/sluicehq/sluice/tape"
)

var update = flag.Bool("update", false, "rewrite golden files")

func sample() tape.Tape {
	return tape.Tape{
		Version: tape.FormatVersion, RunID: "01a2b3c4-0000-7000-8000-000000000001",
		Connector: "directory", ConnectorVersion: "1.0.0",
		ModuleDigest: "sha256:9f2c0000000000000000000000000000000000000000000000000000000000aa",
		Clock:        time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC),
		Seed:         "5eed000000000000000000000000000000000000000000000000000000000001",
		Fields:       map[string][]string{"user": {"department", "email", "name"}},
		Calls: []tape.Call{{
			Export: protocol.ExportSync,
			Input:  json.RawMessage(`{"stream":"users","page_size":2}`),
			Exchanges: []tape.Exchange{{
				Request: protocol.HTTPRequest{Method: "GET", URL: "https://api.example.test/api/v1/users?limit=2",
					Headers: map[string]string{"Authorization": tape.Redacted}, Auth: "default"},
				Response: protocol.HTTPResponse{Status: 200, Headers: map[string]string{"Content-Type": "application/json"},
					Body: []byte(`{"data":[{"id":"u1","phone":"[DROPPED]"}],"has_more":false}`)},
			}},
			Minimised: 1,
			Refused:   []string{"member_of"},
			Emits:     []string{"3f79bb7b435b05321651daefd374cdc681dc06faa65e374e38337b88ca046dea"},
			Output:    "a1f0c1d0e0b0a090807060504030201000f0e0d0c0b0a0908070605040302010",
		}},
	}
}

// The tape is a persisted, offline format: its bytes are pinned.
func TestTapeGolden(t *testing.T) {
	got, err := json.MarshalIndent(sample(), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	const path = "testdata/tape-v2.golden.json"
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
		t.Fatalf("tape encoding changed; if intended, bump tape.FormatVersion and run with -update\n got: %s", got)
	}
	var back tape.Tape
	if err := json.Unmarshal(want, &back); err != nil {
		t.Fatal(err)
	}
	if back.Calls[0].Exchanges[0].Request.Headers["Authorization"] != tape.Redacted || !back.Clock.Equal(sample().Clock) {
		t.Fatalf("round trip lost data: %+v", back)
	}
}
