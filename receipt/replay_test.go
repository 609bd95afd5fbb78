package receipt_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/receipt"
)

func hex64(c byte) string { return strings.Repeat(string(c), 64) }

func sampleReplay() receipt.Replay {
	return receipt.Replay{
		ReceiptID: "rcpt-replay-0190a0b0-0000-7000-8000-0000000000aa", TenantID: "acme", Connection: "dir",
		ConnectorID: "directory", ConnectorVersion: "1.0.0",
		ModuleDigest: "sha256:" + hex64('9'),
		DLQItemID:    "0190a0b0-0000-7000-8000-000000000001", Kind: receipt.KindSync, Mode: receipt.ReplayModeLive,
		Status: receipt.ReplaySucceeded, Attempts: 2,
		OriginalRunID: "0190a0af-0000-7000-8000-000000000001", ReplayRunID: "0190a0b1-0000-7000-8000-000000000001",
		IngestReceiptID: "rcpt-0190a0b1-0000-7000-8000-000000000001", CorrelationID: "corr-7",
		Digests: receipt.ReplayDigests{Input: hex64('a'), Emits: []string{hex64('b'), hex64('c')}, Logs: []string{},
			Output: hex64('d'), Tape: hex64('e')},
		RequestedBy: "key-reviewer-1",
		StartedAt:   "2026-11-25T12:00:00Z", FinishedAt: "2026-11-25T12:00:01.5Z",
	}
}

func TestReplayReceiptRoundTripAndGolden(t *testing.T) {
	k := seededKey(t, "golden")
	env, err := receipt.NewSigner(k).SignReplay(context.Background(), sampleReplay())
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "replay-receipt.golden.json", env)
	v, err := receipt.Verify(env, keySet(t, k))
	if err != nil {
		t.Fatal(err)
	}
	got, err := v.Replay()
	if err != nil {
		t.Fatal(err)
	}
	if want := sampleReplay(); !reflect.DeepEqual(got, want) {
		t.Fatalf("Replay() =\n%+v\nwant\n%+v", got, want)
	}
	if v.Subject[0].Name != "dlq-item/"+got.DLQItemID {
		t.Errorf("subject %q", v.Subject[0].Name)
	}
	if _, err := v.Ingest(); err == nil {
		t.Error("a replay receipt decoded as an ingest receipt")
	}
}

func TestSignReplayRefusesBadPredicates(t *testing.T) {
	s := receipt.NewSigner(seededKey(t, "signer"))
	cases := []struct {
		field string
		edit  func(*receipt.Replay)
	}{
		{"dlq_item_id", func(p *receipt.Replay) { p.DLQItemID = "" }},
		{"requested_by", func(p *receipt.Replay) { p.RequestedBy = "" }},
		{"kind", func(p *receipt.Replay) { p.Kind = "health" }},
		{"mode", func(p *receipt.Replay) { p.Mode = "dry" }},
		{"status", func(p *receipt.Replay) { p.Status = "ok" }},
		{"replay_run_id", func(p *receipt.Replay) { p.Mode = receipt.ReplayModeTape }},
		{"digests.input", func(p *receipt.Replay) { p.Digests.Input = "" }},
		{"digests.emits[1]", func(p *receipt.Replay) { p.Digests.Emits[1] = "sha256:" + hex64('b') }},
		{"digests.output", func(p *receipt.Replay) { p.Digests.Output = strings.ToUpper(hex64('d')) }},
		{"attempts", func(p *receipt.Replay) { p.Attempts = -1 }},
		{"finished_at", func(p *receipt.Replay) { p.FinishedAt = "2026-11-25T11:00:00Z" }},
	}
	for _, c := range cases {
		t.Run(c.field, func(t *testing.T) {
			p := sampleReplay()
			c.edit(&p)
			_, err := s.SignReplay(context.Background(), p)
			var pe *receipt.PredicateError
			if !errors.As(err, &pe) || pe.Field != c.field {
				t.Fatalf("SignReplay = %v, want a PredicateError on %s", err, c.field)
			}
		})
	}
}

func TestReplayDecoderIsStrict(t *testing.T) {
	k := seededKey(t, "signer")
	env, err := receipt.NewSigner(k).SignReplay(context.Background(), sampleReplay())
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]func(st map[string]any){
		"unknown field":   func(st map[string]any) { st["predicate"].(map[string]any)["extra"] = true },
		"missing field":   func(st map[string]any) { delete(st["predicate"].(map[string]any), "original_run_id") },
		"status flipped":  func(st map[string]any) { st["predicate"].(map[string]any)["status"] = "failed" },
		"another item":    func(st map[string]any) { st["predicate"].(map[string]any)["dlq_item_id"] = "other" },
		"mode not a mode": func(st map[string]any) { st["predicate"].(map[string]any)["mode"] = "x" },
	}
	for name, edit := range cases {
		t.Run(name, func(t *testing.T) {
			v, err := receipt.Verify(resign(t, k, env, edit), keySet(t, k))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := v.Replay(); !errors.Is(err, receipt.ErrMalformed) {
				t.Fatalf("Replay() = %v, want ErrMalformed", err)
			}
		})
	}
}
