package conformance

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sluicehq/sluice/export"
	"github.com/sluicehq/sluice/receipt"
	"github.com/sluicehq/sluice/store"
)

func provenanceChecks() []Check {
	return []Check{{
		ID: "provenance.receipts", Gate: GateProvenance, Level: Bronze, Needs: []string{"correctness.ingest"}, Final: true, Live: true,
		Title:  "Every run has a complete, signed receipt",
		Proves: "Every run of the suite, failed ones included, has a receipt whose DSSE signature verifies against the host's key and which carries every required field: ids, tenant, connector, version, module digest, connection, times, counts matching the run, policy reference, payload Merkle root, correlation id and status.",
		Fix:    "Receipts are signed by the host; a failure here is a host defect (or a run that never finished): report it with the evidence.",
		Run:    checkReceipts,
	}, {
		ID: "provenance.lineage", Gate: GateProvenance, Level: Gold, Needs: []string{"correctness.ingest"}, Live: true,
		Title:  "Every object has lineage",
		Proves: "Each stored object of the full sync has a lineage event naming its source object, connection and the run that produced it.",
		Fix:    "Emit objects through the SDK (sluice_emit) only; lineage is written by the host for what it accepts.",
		Run:    checkLineage,
	}, {
		ID: "provenance.edges", Gate: GateProvenance, Level: Gold, Needs: []string{"correctness.stable-ids", "correctness.records-schema"}, Live: true,
		Title:  "Every edge points at existing entities",
		Proves: "Both ends of every stored edge are objects stored by the same connection.",
		Fix:    "Emit an edge only between objects the connector also emits, using the same source ids; sync the streams of both ends.",
		Run:    checkEdges,
	}, {
		ID: "provenance.export", Gate: GateProvenance, Level: Gold, Needs: []string{"correctness.ingest"}, Live: true,
		Title:  "An export bundle of the run verifies",
		Proves: "A compliance export of the full sync (role auditor: PII redacted by the manifest's classes) verifies offline: receipts, object digests against the Merkle roots, redactions, policies and lineage.",
		Fix:    "Declare a PII class for every allow-listed field; a failure otherwise is a host defect: report it with the evidence.",
		Run:    checkExport,
	}}
}

func checkReceipts(ctx context.Context, env *Env) Verdict {
	n := 0
	for _, o := range env.Runs() {
		if o.Result == nil || o.Result.Run.ID == "" {
			continue
		}
		if len(o.Result.Envelope) == 0 {
			if o.Result.Run.State == store.RunRunning {
				continue // interrupted, resumed later: signed when it finishes
			}
			return failf("run %s (%s) has no receipt", o.Result.Run.ID, o.Name)
		}
		if msg := checkReceipt(env, o.Result.Envelope, o.Result.Run); msg != "" {
			return fail(fmt.Sprintf("receipt of %s: %s", o.Name, msg), map[string]string{"run": o.Result.Run.ID})
		}
		n++
	}
	if n == 0 {
		return fail("no receipt observed", nil)
	}
	return pass(fmt.Sprintf("%d receipts verified, every required field present", n), nil)
}

func checkReceipt(env *Env, envelope []byte, run store.Run) string {
	v, err := receipt.Verify(envelope, env.Keys)
	if err != nil {
		return "signature: " + err.Error()
	}
	p, err := v.Ingest()
	if err != nil {
		return "predicate: " + err.Error()
	}
	required := map[string]string{
		"receipt_id": p.ReceiptID, "run_id": p.RunID, "kind": p.Kind, "tenant_id": p.TenantID,
		"connector_id": p.ConnectorID, "connector_version": p.ConnectorVersion, "module_digest": p.ModuleDigest,
		"connection": p.Connection, "started_at": p.StartedAt, "finished_at": p.FinishedAt,
		"policy.id": p.Policy.ID, "policy.digest": p.Policy.Digest, "payload.root": p.Payload.Root,
		"correlation_id": p.CorrelationID, "status": p.Status,
	}
	for _, k := range sortedKeys(required) {
		if required[k] == "" {
			return "field " + k + " is empty"
		}
	}
	switch {
	case p.RunID != run.ID:
		return fmt.Sprintf("run_id %s, want %s", p.RunID, run.ID)
	case p.ModuleDigest != run.ModuleDigest:
		return "module_digest differs from the run's"
	case p.Status != run.State:
		return fmt.Sprintf("status %s, run state %s", p.Status, run.State)
	case p.Counts.Created != run.Counts.Created || p.Counts.Updated != run.Counts.Updated || p.Counts.Errors != run.Counts.Errors:
		return "counts differ from the run's"
	case p.CorrelationID != run.CorrelationID:
		return "correlation_id differs from the run's"
	}
	return ""
}

func checkLineage(ctx context.Context, env *Env) Verdict {
	b := env.Baseline(ctx)
	objs, err := allObjects(ctx, b.A.Tenant)
	if err != nil {
		return fail(err.Error(), nil)
	}
	for _, o := range objs {
		ls, err := b.A.Tenant.Lineage(ctx, o.EntityID)
		if err != nil {
			return failf("lineage of %s: %v", sourceKey(o), err)
		}
		ok := false
		for _, l := range ls {
			if l.SourceObjectID == o.SourceID && l.Connection == ConnID && l.RunID != "" {
				ok = true
			}
		}
		if !ok {
			return fail(fmt.Sprintf("%s has no lineage event naming its source object and run", sourceKey(o)), ls)
		}
	}
	return pass(fmt.Sprintf("%d objects, each with lineage", len(objs)), nil)
}

func checkEdges(ctx context.Context, env *Env) Verdict {
	b := env.Baseline(ctx)
	edges, err := allEdges(ctx, b.A.Tenant)
	if err != nil {
		return fail(err.Error(), nil)
	}
	var dangling []string
	for _, e := range edges {
		for _, end := range []string{e.From, e.To} {
			if _, err := b.A.Tenant.Object(ctx, end); errors.Is(err, store.ErrNotFound) {
				dangling = append(dangling, fmt.Sprintf("%s %s/%s -> %s/%s", e.Type, e.FromRef.Type, e.FromRef.ID, e.ToRef.Type, e.ToRef.ID))
				break
			} else if err != nil {
				return fail(err.Error(), nil)
			}
		}
	}
	if len(dangling) > 0 {
		return fail(fmt.Sprintf("%d of %d edges point at entities that do not exist, first: %s", len(dangling), len(edges), dangling[0]), dangling[:min(len(dangling), 10)])
	}
	return pass(fmt.Sprintf("%d edges, every end stored", len(edges)), nil)
}

func checkExport(ctx context.Context, env *Env) Verdict {
	b := env.Baseline(ctx)
	x, err := export.New(export.Config{Store: env.Store, Classes: export.ManifestClasses(env.Manifest)})
	if err != nil {
		return fail(err.Error(), nil)
	}
	run := b.A.Result.Run
	bundle, err := x.Export(ctx, export.Scope{Tenant: TenantA, From: run.StartedAt.Add(-time.Minute), To: time.Now().Add(time.Minute), Role: export.RoleAuditor})
	if err != nil {
		return fail("export: "+err.Error(), nil)
	}
	data, err := export.Marshal(bundle)
	if err != nil {
		return fail("export: "+err.Error(), nil)
	}
	rep, err := export.Verify(data, env.Keys)
	if err != nil {
		return fail("the export bundle does not verify: "+err.Error(), nil)
	}
	if rep.Objects == 0 || rep.Receipts == 0 {
		return fail("the export bundle holds no objects or receipts", rep)
	}
	return pass(fmt.Sprintf("bundle of %d objects and %d receipts verified (%d fields redacted)", rep.Objects, rep.Receipts, rep.RedactedFields), rep)
}
