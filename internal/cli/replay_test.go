package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/conformance/sandbox"
	"github.com/sluicehq/sluice/internal/wasmbuild"
	"github.com/sluicehq/sluice/store"
	"github.com/sluicehq/sluice/tape"
)

// replayCache keeps the module's compiled code between the replays of a
// test, so each replay does not compile it again.
func replayCache(t *testing.T) string {
	t.Helper()
	root, err := wasmbuild.Root()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(root, "build", "test-cache", "wazero")
}

// replayArgs are the arguments of one replay, with the compile cache.
func replayArgs(t *testing.T, args ...string) []string {
	return append([]string{"replay", "--cache-dir", replayCache(t)}, args...)
}

// editTape rewrites a tape file through fn and saves it under a new name.
func editTape(t *testing.T, path, name string, fn func(tp *tape.Tape)) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	tp, err := tape.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	fn(tp)
	out, err := json.Marshal(tp)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(filepath.Dir(path), name)
	if err := os.WriteFile(p, out, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestReplayCommandOnARecordedTape(t *testing.T) {
	f := setup(t, 120)
	tp := filepath.Join(t.TempDir(), "run.tape.json")
	if code, _, errb := run(t, f.syncArgs("--full", "--page-size", "50", "--tape", tp)...); code != 0 {
		t.Fatalf("sync --tape: exit %d: %s", code, errb)
	}
	code, out, errb := run(t, replayArgs(t, "--tape", tp, "--module", f.module)...)
	if code != 0 || !strings.Contains(out, "identical") {
		t.Fatalf("replay of an untouched tape: exit %d\n%s%s", code, out, errb)
	}
	// Twice, the same digest.
	digest := func() string {
		code, out, errb := run(t, replayArgs(t, "--tape", tp, "--module", f.module, "--json")...)
		var rep struct {
			Identical bool   `json:"identical"`
			Digest    string `json:"digest"`
		}
		if code != 0 || json.Unmarshal([]byte(out), &rep) != nil || !rep.Identical || rep.Digest == "" {
			t.Fatalf("replay --json: exit %d\n%s%s", code, out, errb)
		}
		return rep.Digest
	}
	if a, b := digest(), digest(); a != b {
		t.Fatalf("two replays: digests %s and %s", a, b)
	}

	// One byte of one recorded response changed: exit 1 with a diff.
	changed := editTape(t, tp, "changed.tape.json", func(tp *tape.Tape) {
		body := tp.Calls[0].Exchanges[0].Response.Body
		i := bytes.Index(body, []byte(`"name":"`)) + len(`"name":"`)
		body[i] ^= 0x01
	})
	code, out, errb = run(t, replayArgs(t, "--tape", changed, "--module", f.module)...)
	if code != 1 || !strings.Contains(out, "differences (- recorded, + replayed)") || !strings.Contains(out, "call 0 (sync):") ||
		!strings.Contains(out, "emits[") || !strings.Contains(errb, "differs from the tape") {
		t.Fatalf("replay of a changed tape: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errb)
	}

	// Usage errors exit 2 and say what is wrong.
	junk := filepath.Join(t.TempDir(), "junk.json")
	if err := os.WriteFile(junk, []byte(`{"version":1,"calls":[{"export":""}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	noManifest := editTape(t, tp, "bare.tape.json", func(tp *tape.Tape) { tp.Manifest = nil })
	notWasm := filepath.Join(t.TempDir(), "not.wasm")
	if err := os.WriteFile(notWasm, []byte("not wasm"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"no flags", []string{"replay"}, "--tape and --module"},
		{"missing tape", []string{"replay", "--tape", filepath.Join(t.TempDir(), "none"), "--module", f.module}, "--tape"},
		{"not a tape", []string{"replay", "--tape", junk, "--module", f.module}, "calls[0].export"},
		{"no manifest", []string{"replay", "--tape", noManifest, "--module", f.module}, "--manifest"},
		{"not wasm", []string{"replay", "--tape", tp, "--module", notWasm}, "--module"},
		{"unknown flag", []string{"replay", "--tapes", tp}, "tapes"},
	} {
		code, _, errb := run(t, c.args...)
		if code != 2 || !strings.Contains(errb, c.want) {
			t.Errorf("%s: exit %d, stderr %q; want 2 naming %s", c.name, code, errb, c.want)
		}
	}
	// The tape's manifest can be overridden.
	if code, out, errb := run(t, replayArgs(t, "--tape", noManifest, "--module", f.module, "--manifest", f.manifest)...); code != 0 {
		t.Errorf("replay with --manifest: exit %d\n%s%s", code, out, errb)
	}
}

func TestReplayCommandOnADeadLetterTape(t *testing.T) {
	f := setup(t, 30)
	sb := sandbox.New(sandbox.Config{Users: 30})
	base, err := sb.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sb.Close() })
	// 501 is never retried, so the run fails at once (500s would be
	// retried with real backoff: the CLI has no test clock).
	if err := sb.SetFaults(sandbox.Faults{ErrorRate: 1, ErrorStatus: 501, PathPrefix: "/api/v1/groups"}); err != nil {
		t.Fatal(err)
	}
	f.base = base
	if code, _, _ := run(t, f.syncArgs("--full")...); code != 1 {
		t.Fatalf("sync against failing groups: exit %d, want 1", code)
	}
	// Fetch the dead-letter item's tape from the data folder, as
	// GET …/dlq/{item}/tape would serve it.
	db, err := store.Open(store.Options{Dir: filepath.Join(f.data, "store")})
	if err != nil {
		t.Fatal(err)
	}
	tn, _ := db.Tenant("acme")
	items, _, err := tn.DLQItems(context.Background(), "", "", 10)
	if err != nil || len(items) != 1 {
		_ = db.Close()
		t.Fatalf("dead-letter items: %v, %v", items, err)
	}
	raw, err := tn.DLQTape(context.Background(), items[0].ID)
	_ = db.Close()
	if err != nil {
		t.Fatal(err)
	}
	tp := filepath.Join(t.TempDir(), "dlq.tape.json")
	if err := os.WriteFile(tp, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	// Offline, the failing call fails again exactly as recorded.
	if code, out, errb := run(t, replayArgs(t, "--tape", tp, "--module", f.module)...); code != 0 {
		t.Fatalf("replay of the dead-letter tape: exit %d\n%s%s", code, out, errb)
	}
	// The recorded 500 turned into a 200 (one byte): the call now fails
	// differently, and the diff says where.
	changed := editTape(t, tp, "ok.tape.json", func(tp *tape.Tape) { tp.Calls[0].Exchanges[0].Response.Status = 200 })
	code, out, _ := run(t, replayArgs(t, "--tape", changed, "--module", f.module)...)
	if code != 1 || !strings.Contains(out, "error") {
		t.Fatalf("replay of the changed dead-letter tape: exit %d\n%s", code, out)
	}
}
