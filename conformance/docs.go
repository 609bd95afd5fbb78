package conformance

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/sluicehq/sluice/conformance/report"
)

// Markdown renders the registry as the certification reference
// (docs/certification.md is this output for Default(); a test fails when
// the two drift).
func Markdown(r *Registry) []byte {
	var b bytes.Buffer
	b.WriteString("# Certification checks\n\n")
	b.WriteString("<!-- Generated from the check registry (package conformance) by\n" +
		"     `go test ./conformance -run TestCertificationDoc -update`. Do not edit. -->\n\n")
	b.WriteString("`sluice certify` (and `conformance.Run` in a partner's own tests) runs every\n" +
		"check below against a module, its manifest and a sample tenant. A level is\n" +
		"reached only when every check it requires passes: its own and every lower\n" +
		"level's. A skipped required check is a failure: a check is skipped when a\n" +
		"check it needs did not pass (one defect is reported once, under its own\n" +
		"id), when it needs a live sample tenant and the run replays tapes, or when\n" +
		"this host does not implement the feature yet.\n\n")
	b.WriteString("| level | adds |\n| --- | --- |\n" +
		"| bronze | ingest, receipts, basic metrics, tenant isolation |\n" +
		"| silver | actions, replay and the dead-letter queue, redaction support |\n" +
		"| gold | verify checks, full lineage, compliance-ready exports, chaos-tested limits |\n\n")
	b.WriteString("The JSON report (`--out`, format pinned by\n" +
		"`conformance/report/testdata/report.golden.json`) holds the module digest, the\n" +
		"mode (live or tape), the claimed, requested and reached levels, each level's\n" +
		"failed and skipped checks, setup and wall time, each gate's wall time, and\n" +
		"every check's status, reason, evidence, duration and, when it did not pass,\n" +
		"how to fix it. `--html` renders the same as one self-contained page.\n\n")
	checks := r.Checks()
	b.WriteString("| id | gate | level |\n| --- | --- | --- |\n")
	for _, c := range checks {
		fmt.Fprintf(&b, "| [`%s`](#%s) | %s | %s |\n", c.ID, anchor(c.ID), c.Gate, c.Level)
	}
	for _, g := range report.Gates {
		first := true
		for _, c := range checks {
			if c.Gate != g {
				continue
			}
			if first {
				fmt.Fprintf(&b, "\n## %s\n", g.Title())
				first = false
			}
			fmt.Fprintf(&b, "\n### %s\n\n", c.ID)
			fmt.Fprintf(&b, "**%s.** Level %s", c.Title, c.Level)
			if len(c.Needs) > 0 {
				fmt.Fprintf(&b, "; needs %s", codeList(c.Needs))
			}
			if c.Live {
				b.WriteString("; needs a live sample tenant")
			}
			b.WriteString(".\n\n")
			fmt.Fprintf(&b, "- Proves: %s\n- Fix: %s\n", c.Proves, c.Fix)
		}
	}
	return b.Bytes()
}

// anchor is the GitHub heading anchor of a check id.
func anchor(id string) string { return strings.ReplaceAll(id, ".", "") }

func codeList(ids []string) string {
	q := make([]string, len(ids))
	for i, id := range ids {
		q[i] = "`" + id + "`"
	}
	return strings.Join(q, ", ")
}
