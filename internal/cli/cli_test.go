package cli_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/conformance/sandbox"
	"github.com/sluicehq/sluice/internal/cli"
	"github.com/sluicehq/sluice/internal/wasmbuild"
	"github.com/sluicehq/sluice/receipt"
)

type fixture struct {
	module, manifest, base, data string
}

func setup(t *testing.T, users int) fixture {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	wasm, err := wasmbuild.Build(ctx, "connectors-wasm", "./directory")
	if err != nil {
		t.Fatal(err)
	}
	root, err := wasmbuild.Root()
	if err != nil {
		t.Fatal(err)
	}
	sb := sandbox.New(sandbox.Config{Users: users})
	base, err := sb.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sb.Close() })
	return fixture{module: wasm, manifest: filepath.Join(root, "connectors-wasm", "directory", "connector.json"),
		base: base, data: t.TempDir()}
}

func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := cli.Main(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func (f fixture) syncArgs(extra ...string) []string {
	return append([]string{"sync", "--module", f.module, "--manifest", f.manifest, "--tenant", "acme", "--data", f.data,
		"--config", "base_url=" + f.base, "--secret", "client_id=" + sandbox.DefaultClientID,
		"--secret", "client_secret=" + sandbox.DefaultClientSecret, "--allow-private"}, extra...)
}

type syncJSON struct {
	RunID  string `json:"run_id"`
	State  string `json:"state"`
	Counts struct {
		Read, Created, Updated, Deleted, Skipped, Errors int64
	} `json:"counts"`
	Receipt json.RawMessage `json:"receipt"`
}

func TestSyncJSONThenVerifyReceipts(t *testing.T) {
	f := setup(t, 200)
	code, out, errOut := run(t, f.syncArgs("--json", "--full")...)
	if code != 0 {
		t.Fatalf("sync exit %d: %s", code, errOut)
	}
	var got syncJSON
	if err := json.Unmarshal([]byte(strings.TrimSpace(out)), &got); err != nil {
		t.Fatalf("--json output is not one JSON object: %v\n%s", err, out)
	}
	if got.RunID == "" || got.State != "succeeded" || got.Counts.Created != 210 || got.Counts.Errors != 0 {
		t.Fatalf("sync output = %+v", got)
	}
	var env struct {
		PayloadType string `json:"payloadType"`
	}
	if err := json.Unmarshal(got.Receipt, &env); err != nil || env.PayloadType != receipt.PayloadType {
		t.Fatalf("receipt is not a DSSE envelope: %s", got.Receipt)
	}

	// The one-line summary form, and an unchanged second sync.
	code, out, _ = run(t, f.syncArgs("--full")...)
	if code != 0 || !strings.Contains(out, "created=0") || !strings.Contains(out, "skipped=210") {
		t.Fatalf("second sync exit %d: %s", code, out)
	}

	code, out, errOut = run(t, "receipts", "verify", "--data", f.data, "--tenant", "acme")
	if code != 0 || !strings.Contains(out, "2 receipts verified, 0 failed") {
		t.Fatalf("verify exit %d: %s %s", code, out, errOut)
	}
}

func TestReceiptsVerifyFailsOnAnotherKey(t *testing.T) {
	f := setup(t, 20)
	if code, _, errOut := run(t, f.syncArgs("--full")...); code != 0 {
		t.Fatalf("sync: %s", errOut)
	}
	// Trust only another key: the stored receipt no longer verifies.
	key, err := receipt.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		t.Fatal(err)
	}
	foreign := filepath.Join(t.TempDir(), "foreign.pem")
	if err := os.WriteFile(foreign, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := run(t, "receipts", "verify", "--data", f.data, "--tenant", "acme", "--key", foreign)
	if code != 1 || !strings.Contains(out, "0 receipts verified, 1 failed") || !strings.Contains(errOut, "receipt") {
		t.Fatalf("verify with a foreign key: exit %d, out %q, err %q", code, out, errOut)
	}
}

func TestBackfillAndUsageErrors(t *testing.T) {
	f := setup(t, 300)
	args := []string{"backfill", "--module", f.module, "--manifest", f.manifest, "--tenant", "acme", "--data", f.data,
		"--config", "base_url=" + f.base, "--secret", "client_id=" + sandbox.DefaultClientID,
		"--secret", "client_secret=" + sandbox.DefaultClientSecret, "--allow-private", "--json",
		"--from", "2021-01-01T00:00:00Z", "--to", "2023-01-01T00:00:00Z"}
	code, out, errOut := run(t, args...)
	if code != 0 {
		t.Fatalf("backfill exit %d: %s", code, errOut)
	}
	var got syncJSON
	if err := json.Unmarshal([]byte(out), &got); err != nil || got.Counts.Created == 0 || got.Counts.Created >= 300 {
		t.Fatalf("backfill output %s (%v)", out, err)
	}

	cases := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no tenant", []string{"sync", "--module", f.module, "--manifest", f.manifest, "--data", f.data}, 2, "--tenant"},
		{"bad config pair", f.syncArgs("--config", "novalue"), 2, "--config"},
		{"bad from", append(args[:len(args)-4:len(args)-4], "--from", "yesterday", "--to", "2023-01-01T00:00:00Z"), 2, "--from"},
		{"unknown flag", []string{"sync", "--frobnicate"}, 2, "frobnicate"},
		{"missing module file", []string{"sync", "--module", filepath.Join(f.data, "nope.wasm"), "--manifest", f.manifest, "--tenant", "acme", "--data", f.data}, 1, "nope.wasm"},
		{"bad tenant id", f.syncArgs("--tenant", "Not/A/Tenant"), 2, "tenant"},
		{"undeclared scope", f.syncArgs("--scope", "admin:everything"), 2, "admin:everything"},
		{"private network not allowed", []string{"sync", "--module", f.module, "--manifest", f.manifest, "--tenant", "acme", "--data", f.data,
			"--config", "base_url=" + f.base, "--secret", "client_id=x", "--secret", "client_secret=y"}, 1, "authorize"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errOut := run(t, tc.args...)
			if code != tc.code || !strings.Contains(errOut, tc.want) {
				t.Fatalf("exit %d (want %d), stderr %q (want it to mention %q)", code, tc.code, errOut, tc.want)
			}
		})
	}
}
