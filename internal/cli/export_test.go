package cli_test

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/export"
	"github.com/sluicehq/sluice/receipt"
)

// exportRange covers every receipt a test made.
var exportFrom, exportTo = "2000-01-01T00:00:00Z", time.Now().Add(24 * time.Hour).UTC().Format(time.RFC3339)

// exportBundle runs `sluice export` for role and returns the file.
func (f fixture) exportBundle(t *testing.T, role string, extra ...string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), role+".json")
	args := append([]string{"export", "--data", f.data, "--tenant", "acme", "--from", exportFrom, "--to", exportTo,
		"--role", role, "--out", out, "--manifest", f.manifest}, extra...)
	if code, stdout, stderr := run(t, args...); code != 0 {
		t.Fatalf("export --role %s: exit %d: %s %s", role, code, stdout, stderr)
	}
	return out
}

func readBundle(t *testing.T, path string) *export.Bundle {
	t.Helper()
	b, err := export.Parse(readBytes(t, path))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeBundle(t *testing.T, b *export.Bundle) string {
	t.Helper()
	doc, err := export.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "tampered.json")
	if err := os.WriteFile(path, doc, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func flipHex(s string) string {
	if s[0] == '0' {
		return "1" + s[1:]
	}
	return "0" + s[1:]
}

// TestExportRedactedVerifiesAndTamperingIsNamed: an auditor bundle of a
// real run verifies, with the keyring's keys given out of band too; each
// kind of tampering makes `sluice export verify` exit 1 naming what broke.
func TestExportRedactedVerifiesAndTamperingIsNamed(t *testing.T) {
	f := setup(t, 20)
	if code, _, errOut := run(t, f.syncArgs("--full")...); code != 0 {
		t.Fatalf("sync: %s", errOut)
	}
	path := f.exportBundle(t, "auditor")
	if code, out, errOut := run(t, "export", "verify", path); code != 0 || !strings.Contains(out, "bundle verified") {
		t.Fatalf("export verify: exit %d: %s %s", code, out, errOut)
	}
	code, pemOut, errOut := run(t, "keys", "list", "--data", f.data, "--pem")
	if code != 0 {
		t.Fatalf("keys list: %s", errOut)
	}
	pub := filepath.Join(t.TempDir(), "keys.pem")
	if err := os.WriteFile(pub, []byte(pemOut), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, out, errOut := run(t, "export", "verify", path, "--key", pub); code != 0 {
		t.Fatalf("export verify --key: exit %d: %s %s", code, out, errOut)
	}

	orig := readBundle(t, path)
	if len(orig.Objects) < 21 || len(orig.Receipts) != 1 || len(orig.Redactions) == 0 || len(orig.Lineage) != 1 {
		t.Fatalf("bundle has %d objects, %d receipts, %d redactions, %d lineage events", len(orig.Objects), len(orig.Receipts), len(orig.Redactions), len(orig.Lineage))
	}
	// The first User object: "status" (class none) is revealed, "email"
	// (contact) is redacted.
	ui := -1
	for i, o := range orig.Objects {
		if strings.EqualFold(o.Type, "user") {
			ui = i
			break
		}
	}
	if ui < 0 {
		t.Fatal("no User object in the bundle")
	}
	user := orig.Objects[ui]
	if !user.Disclosure.Fields["status"].Revealed() || user.Disclosure.Fields["email"].Revealed() {
		t.Fatalf("auditor sees %+v", user.Disclosure.Fields)
	}
	entity, rcpt := user.Disclosure.EntityID, orig.Receipts[0].ID
	otherKey, err := receipt.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name   string
		tamper func(b *export.Bundle)
		want   []string
	}{
		{"revealed value", func(b *export.Bundle) {
			fl := b.Objects[ui].Disclosure.Fields["status"]
			fl.Value = json.RawMessage(`"deleted"`)
			b.Objects[ui].Disclosure.Fields["status"] = fl
		}, []string{"object " + entity, `field "status"`, "revealed value does not match its digest"}},
		{"revealed salt", func(b *export.Bundle) {
			fl := b.Objects[ui].Disclosure.Fields["status"]
			fl.Salt = flipHex(fl.Salt)
			b.Objects[ui].Disclosure.Fields["status"] = fl
		}, []string{`field "status"`}},
		{"redacted digest", func(b *export.Bundle) {
			fl := b.Objects[ui].Disclosure.Fields["email"]
			fl.Digest = flipHex(fl.Digest)
			b.Objects[ui].Disclosure.Fields["email"] = fl
		}, []string{"object " + entity, "field digests do not give the object digest"}},
		{"object digest", func(b *export.Bundle) {
			b.Objects[ui].Digest = flipHex(b.Objects[ui].Digest)
		}, []string{"object " + entity, "(receipt " + rcpt + ")"}},
		{"proof node", func(b *export.Bundle) {
			b.Objects[ui].Proof[0] = flipHex(b.Objects[ui].Proof[0])
		}, []string{"proof " + entity, "does not lead to the signed root"}},
		{"leaf index", func(b *export.Bundle) {
			b.Objects[ui].LeafIndex ^= 1
		}, []string{"proof " + entity}},
		{"receipt payload", func(b *export.Bundle) {
			var env map[string]any
			_ = json.Unmarshal(b.Receipts[0].Envelope, &env)
			body, _ := base64.StdEncoding.DecodeString(env["payload"].(string))
			body = []byte(strings.Replace(string(body), `"status":"succeeded"`, `"status":"failed"`, 1))
			env["payload"] = base64.StdEncoding.EncodeToString(body)
			b.Receipts[0].Envelope, _ = json.Marshal(env)
		}, []string{"receipt " + rcpt, "envelope does not verify", "bad signature"}},
		{"receipt replaced", func(b *export.Bundle) {
			b.Receipts[0].Envelope = json.RawMessage(`{"payloadType":"application/vnd.in-toto+json","payload":"e30=","signatures":[{"keyid":"x","sig":"AAAA"}]}`)
		}, []string{"receipt " + rcpt}},
		{"redaction removed", func(b *export.Bundle) {
			b.Redactions = b.Redactions[1:]
		}, []string{"redaction", "has no redaction metadata"}},
		{"redaction role", func(b *export.Bundle) {
			b.Redactions[0].Role = "admin"
		}, []string{"redaction " + orig.Redactions[0].EntityID, "is not the bundle's role"}},
		{"redaction of a revealed field", func(b *export.Bundle) {
			b.Redactions = append(b.Redactions, export.Redaction{EntityID: entity, Path: "/status", RuleID: "r", Reason: "x", Role: "auditor"})
		}, []string{"redaction " + entity, "/status", "names no redacted field"}},
		{"key swapped", func(b *export.Bundle) {
			b.Keys[0].Public = otherKey.Public()
		}, []string{"key ", "id does not match its public key"}},
		{"policy digest", func(b *export.Bundle) {
			b.Policies[0].Digest = "sha256:00"
		}, []string{"policy ", "differs from the policy the receipt signs"}},
		{"lineage time", func(b *export.Bundle) {
			b.Lineage[0].EventTime = "2001-01-01T00:00:00Z"
		}, []string{"lineage ", "eventTime"}},
		{"range narrowed", func(b *export.Bundle) {
			b.To = "2001-01-01T00:00:00Z"
		}, []string{"receipt " + rcpt, "not within the bundle's range"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := readBundle(t, path)
			tc.tamper(b)
			code, out, errOut := run(t, "export", "verify", writeBundle(t, b))
			if code != 1 {
				t.Fatalf("exit %d, want 1: %s %s", code, out, errOut)
			}
			for _, w := range tc.want {
				if !strings.Contains(errOut, w) {
					t.Errorf("error %q does not name %q", strings.TrimSpace(errOut), w)
				}
			}
		})
	}

	// A key nobody gave out of band: the receipt is not trusted.
	other := filepath.Join(t.TempDir(), "other.pem")
	pemOther := "-----BEGIN PUBLIC KEY-----\n" + base64.StdEncoding.EncodeToString(append([]byte{0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00}, otherKey.Public()...)) + "\n-----END PUBLIC KEY-----\n"
	if err := os.WriteFile(other, []byte(pemOther), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := run(t, "export", "verify", path, "--key", other); code != 1 || !strings.Contains(errOut, "receipt "+rcpt) || !strings.Contains(errOut, "unknown signing key") && !strings.Contains(errOut, "no trusted key") {
		t.Fatalf("verify with a foreign trusted key: exit %d: %s", code, errOut)
	}
	// Usage errors exit 2.
	for _, args := range [][]string{
		{"export", "verify"},
		{"export", "verify", filepath.Join(t.TempDir(), "missing.json")},
		{"export", "--data", f.data, "--tenant", "acme", "--from", exportFrom, "--to", exportTo, "--role", "intern", "--out", filepath.Join(t.TempDir(), "x")},
		{"export", "--data", f.data, "--tenant", "acme", "--from", "yesterday", "--to", exportTo, "--role", "auditor", "--out", filepath.Join(t.TempDir(), "x")},
		{"export", "--data", f.data, "--tenant", "acme", "--from", exportTo, "--to", exportFrom, "--role", "auditor", "--out", filepath.Join(t.TempDir(), "x")},
		{"export", "verify", path, "--key", path},
	} {
		if code, _, errOut := run(t, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2 (%s)", args, code, errOut)
		}
	}
	// Not a bundle at all: exit 1, malformed.
	junk := filepath.Join(t.TempDir(), "junk.json")
	_ = os.WriteFile(junk, []byte(`{"format":"zip"}`), 0o600)
	if code, _, errOut := run(t, "export", "verify", junk); code != 1 || !strings.Contains(errOut, "malformed") {
		t.Fatalf("junk: exit %d: %s", code, errOut)
	}
}

// TestExportPIIByRole: an auditor bundle holds no PII value the sandbox
// produced (emails, names, user ids, as the admin bundle reveals them);
// an admin bundle reveals them all, over the same receipts, digests and
// roots.
func TestExportPIIByRole(t *testing.T) {
	f := setup(t, 25)
	if code, _, errOut := run(t, f.syncArgs("--full")...); code != 0 {
		t.Fatalf("sync: %s", errOut)
	}
	adminPath, auditorPath := f.exportBundle(t, "admin"), f.exportBundle(t, "auditor")
	admin, auditor := readBundle(t, adminPath), readBundle(t, auditorPath)
	auditorBytes := string(readBytes(t, auditorPath))

	var pii []string
	for _, o := range admin.Objects {
		if !strings.EqualFold(o.Type, "user") {
			continue
		}
		for _, name := range []string{"email", "name", "id"} {
			fl := o.Disclosure.Fields[name]
			var v string
			if !fl.Revealed() || json.Unmarshal(fl.Value, &v) != nil || v == "" {
				t.Fatalf("admin bundle does not reveal %s of %s: %+v", name, o.Disclosure.EntityID, fl)
			}
			pii = append(pii, v)
		}
	}
	if len(pii) != 25*3 {
		t.Fatalf("collected %d PII values, want %d", len(pii), 25*3)
	}
	for _, v := range pii {
		if strings.Contains(auditorBytes, v) {
			t.Errorf("auditor bundle holds PII value %q", v)
		}
	}
	if len(admin.Redactions) != 0 || len(auditor.Redactions) == 0 {
		t.Fatalf("redactions: admin %d, auditor %d", len(admin.Redactions), len(auditor.Redactions))
	}
	// Same receipts (so the same signed roots) and the same object digests.
	if len(admin.Receipts) != len(auditor.Receipts) || string(admin.Receipts[0].Envelope) != string(auditor.Receipts[0].Envelope) {
		t.Fatal("admin and auditor bundles carry different receipts")
	}
	if len(admin.Objects) != len(auditor.Objects) {
		t.Fatalf("objects: admin %d, auditor %d", len(admin.Objects), len(auditor.Objects))
	}
	for i := range admin.Objects {
		a, b := admin.Objects[i], auditor.Objects[i]
		if a.Digest != b.Digest || a.Disclosure.EntityID != b.Disclosure.EntityID || strings.Join(a.Proof, ",") != strings.Join(b.Proof, ",") {
			t.Fatalf("object %d differs between roles", i)
		}
	}
	for _, p := range []string{adminPath, auditorPath} {
		if code, _, errOut := run(t, "export", "verify", p); code != 0 {
			t.Fatalf("verify %s: %s", p, errOut)
		}
	}
}

// TestKeyRotationReceiptsVerify: the legacy key file is imported and
// deleted on first start; receipts signed before and after `sluice keys
// rotate` both verify, in `receipts verify` and in an export.
func TestKeyRotationReceiptsVerify(t *testing.T) {
	f := setup(t, 10)
	legacy, err := receipt.LoadOrCreateKey(filepath.Join(f.data, "keys", "signing.pem"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := run(t, f.syncArgs("--full")...); code != 0 {
		t.Fatalf("sync: %s", errOut)
	}
	if _, err := os.Stat(filepath.Join(f.data, "keys", "signing.pem")); !os.IsNotExist(err) {
		t.Fatalf("signing.pem still in the clear after the first start: %v", err)
	}
	code, out, errOut := run(t, "keys", "rotate", "--data", f.data)
	if code != 0 || !strings.Contains(out, "active signing key: ed25519:") {
		t.Fatalf("keys rotate: exit %d: %s %s", code, out, errOut)
	}
	if code, _, errOut := run(t, f.syncArgs("--full")...); code != 0 {
		t.Fatalf("sync after rotation: %s", errOut)
	}
	code, out, errOut = run(t, "receipts", "verify", "--data", f.data, "--tenant", "acme")
	if code != 0 || !strings.Contains(out, "2 receipts verified, 0 failed") {
		t.Fatalf("receipts verify: exit %d: %s %s", code, out, errOut)
	}
	code, out, _ = run(t, "keys", "list", "--data", f.data)
	var keys []struct{ ID, State string }
	if code != 0 || json.Unmarshal([]byte(out), &keys) != nil || len(keys) != 2 ||
		keys[0].ID != legacy.ID || keys[0].State != "retired" || keys[1].State != "active" {
		t.Fatalf("keys list: %s", out)
	}
	b := readBundle(t, f.exportBundle(t, "auditor"))
	signers := map[string]bool{}
	for _, r := range b.Receipts {
		var env struct{ Signatures []struct{ KeyID string } }
		_ = json.Unmarshal(r.Envelope, &env)
		signers[env.Signatures[0].KeyID] = true
	}
	if len(b.Receipts) != 2 || !signers[keys[0].ID] || !signers[keys[1].ID] {
		t.Fatalf("receipts signed by %v, want both keys", signers)
	}
	if code, _, errOut := run(t, "export", "verify", writeBundle(t, b)); code != 0 {
		t.Fatalf("export verify across a rotation: %s", errOut)
	}
}

func readBytes(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
