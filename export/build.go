package export

import (
	"cmp"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/sluicehq/sluice/guest-sdk/protocol"
	"github.com/sluicehq/sluice/keyring"
	"github.com/sluicehq/sluice/manifest"
	"github.com/sluicehq/sluice/receipt"
	"github.com/sluicehq/sluice/store"
)

// saltKeyName is the tenant key the engine digests objects under
// (engine/page.go).
const saltKeyName = "payload-salt"

// FieldClasses returns the PII class of each field of an object type of a
// connector version (the manifest's field policy); a nil map means the
// manifest is unknown.
type FieldClasses func(ctx context.Context, connector, version, objectType string) (map[string]string, error)

// Config configures an Exporter.
type Config struct {
	Store *store.DB // required
	// Rules decide redaction; nil is DefaultRules.
	Rules Rules
	// Classes look up field policies; nil reads the manifests of the
	// connector registry (RegistryClasses).
	Classes FieldClasses
	// Now stamps created_at; nil is time.Now.
	Now    func() time.Time
	Logger *slog.Logger // nil discards
}

// Exporter builds bundles from the store. It is safe for concurrent use.
type Exporter struct {
	db      *store.DB
	rules   Rules
	classes FieldClasses
	now     func() time.Time
	log     *slog.Logger
}

// New returns an Exporter; it touches nothing.
func New(cfg Config) (*Exporter, error) {
	if cfg.Store == nil {
		return nil, errors.New("export: Config.Store is required")
	}
	x := &Exporter{db: cfg.Store, rules: cfg.Rules, classes: cfg.Classes, now: cfg.Now, log: cfg.Logger}
	if x.rules == nil {
		x.rules = DefaultRules{}
	}
	if x.classes == nil {
		x.classes = RegistryClasses(cfg.Store)
	}
	if x.now == nil {
		x.now = time.Now
	}
	if x.log == nil {
		x.log = slog.New(slog.DiscardHandler)
	}
	return x, nil
}

// Scope is what an export covers.
type Scope struct {
	Tenant string
	From   time.Time // inclusive
	To     time.Time // exclusive
	Role   string
}

func (x *Exporter) checkScope(s Scope) error {
	switch {
	case s.From.IsZero():
		return &ScopeError{Field: "from", Reason: "required"}
	case s.To.IsZero():
		return &ScopeError{Field: "to", Reason: "required"}
	case !s.To.After(s.From):
		return &ScopeError{Field: "to", Reason: "must be after from"}
	}
	return x.rules.CheckRole(s.Role)
}

// Export builds the bundle of scope.
func (x *Exporter) Export(ctx context.Context, s Scope) (*Bundle, error) {
	if err := x.checkScope(s); err != nil {
		return nil, err
	}
	t, err := x.db.Tenant(s.Tenant)
	if err != nil {
		return nil, &ScopeError{Field: "tenant", Reason: err.Error()}
	}
	b := &Bundle{
		Format: Format, Tenant: s.Tenant, Role: s.Role,
		From: receipt.FormatTime(s.From), To: receipt.FormatTime(s.To), CreatedAt: receipt.FormatTime(x.now()),
		Keys: []Key{}, Receipts: []Receipt{}, Objects: []Object{}, Redactions: []Redaction{},
		Policies: []Policy{}, Decisions: []Decision{}, Lineage: []RunEvent{}, Omitted: []Omission{},
	}
	pubs, err := keyring.PublicKeys(ctx, x.db.Platform())
	if err != nil {
		return nil, err
	}
	for _, k := range pubs {
		key := Key{ID: k.ID, Algorithm: k.Algorithm, Public: k.Public, State: k.State, CreatedAt: receipt.FormatTime(k.CreatedAt)}
		if !k.RetiredAt.IsZero() {
			key.RetiredAt = receipt.FormatTime(k.RetiredAt)
		}
		b.Keys = append(b.Keys, key)
	}
	trusted, err := keyring.KeySet(ctx, x.db.Platform())
	if err != nil {
		return nil, err
	}
	var stored []store.Receipt
	err = t.Receipts(ctx, func(r store.Receipt) error {
		if !r.CreatedAt.Before(s.From) && r.CreatedAt.Before(s.To) {
			stored = append(stored, r)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(stored, func(a, b store.Receipt) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
	var runs []ingestRun
	for _, r := range stored {
		b.Receipts = append(b.Receipts, Receipt{ID: r.ID, RunID: r.RunID, Kind: r.Kind, CreatedAt: receipt.FormatTime(r.CreatedAt), Envelope: r.Envelope})
		v, err := receipt.Verify(r.Envelope, trusted)
		if err != nil {
			return nil, fmt.Errorf("%w: stored receipt %s does not verify with the keyring: %w", ErrInconsistentStore, r.ID, err)
		}
		if v.PredicateType != receipt.PredicateIngest {
			continue
		}
		p, err := v.Ingest()
		if err != nil {
			return nil, fmt.Errorf("%w: receipt %s: %w", ErrInconsistentStore, r.ID, err)
		}
		b.Policies = append(b.Policies, Policy{ReceiptID: r.ID, ID: p.Policy.ID, Rule: p.Policy.Rule, Digest: p.Policy.Digest})
		runs = append(runs, ingestRun{receiptID: r.ID, pred: p})
	}
	if err := x.objects(ctx, t, s.Role, runs, b); err != nil {
		return nil, err
	}
	if err := addDecisions(ctx, t, runs, b); err != nil {
		return nil, err
	}
	return b, nil
}

type ingestRun struct {
	receiptID string
	pred      receipt.Ingest
	objects   []Object
	redacted  []Redaction
	omitted   []Omission
	types     []string
	lineage   []store.Lineage
	decisions []string // ids of the redaction decisions behind its objects' verdicts
}

// objects discloses the objects of the runs, each under the newest run
// in scope that committed its current value, and builds the lineage.
func (x *Exporter) objects(ctx context.Context, t *store.Tenant, role string, runs []ingestRun, b *Bundle) error {
	salt, err := t.Key(ctx, saltKeyName)
	if errors.Is(err, store.ErrNotFound) {
		salt = nil // nothing was ever committed
	} else if err != nil {
		return err
	}
	var dg *receipt.Digester
	if salt != nil {
		if dg, err = receipt.NewDigester(salt); err != nil {
			return err
		}
	}
	seen := map[string]bool{}
	vs := newVerdicts(x.rules)
	for i := len(runs) - 1; i >= 0; i-- {
		if err := x.runObjects(ctx, t, role, dg, vs, &runs[i], seen); err != nil {
			return err
		}
	}
	for i := range runs {
		r := &runs[i]
		b.Objects = append(b.Objects, r.objects...)
		b.Redactions = append(b.Redactions, r.redacted...)
		b.Omitted = append(b.Omitted, r.omitted...)
		b.Lineage = append(b.Lineage, runEvent(b.Tenant, r.receiptID, r.pred, r.types, r.lineage))
	}
	return nil
}

// runObjects fills r with the objects of its payload manifest whose
// stored value is the one it committed (and not already taken by a newer
// run), their proofs, redactions and lineage.
func (x *Exporter) runObjects(ctx context.Context, t *store.Tenant, role string, dg *receipt.Digester, vs *verdicts, r *ingestRun, seen map[string]bool) error {
	type leaf struct {
		entity, digest string
	}
	var leaves []leaf
	pb := receipt.NewPayloadBuilder()
	err := t.PayloadManifest(ctx, r.pred.RunID, func(entity, digest string) error {
		d, err := receipt.ParseDigest(digest)
		if err != nil {
			return fmt.Errorf("%w: payload manifest of run %s: %w", ErrInconsistentStore, r.pred.RunID, err)
		}
		leaves = append(leaves, leaf{entity, digest})
		return pb.Add(entity, d)
	})
	if err != nil {
		return err
	}
	root, count := pb.Root()
	if hex.EncodeToString(root[:]) != r.pred.Payload.Root || count != r.pred.Payload.Count {
		return fmt.Errorf("%w: payload manifest of run %s does not give the root receipt %s signs", ErrInconsistentStore, r.pred.RunID, r.receiptID)
	}
	run, err := t.Run(ctx, r.pred.RunID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	classes := map[string]map[string]string{} // by object type
	for i, l := range leaves {
		if seen[l.entity] {
			continue
		}
		o, err := t.Object(ctx, l.entity)
		switch {
		case errors.Is(err, store.ErrNotFound):
			r.omitted = append(r.omitted, Omission{ReceiptID: r.receiptID, EntityID: l.entity, Reason: "deleted"})
			continue
		case err != nil:
			return err
		case o.Digest != l.digest:
			r.omitted = append(r.omitted, Omission{ReceiptID: r.receiptID, EntityID: l.entity, Reason: "changed"})
			continue
		}
		seen[l.entity] = true
		if dg == nil {
			return fmt.Errorf("%w: tenant has objects but no salt key", ErrInconsistentStore)
		}
		d, err := dg.Disclose(l.entity, o.Data)
		if err != nil {
			return err
		}
		if digest, err := d.ObjectDigest(); err != nil || hex.EncodeToString(digest[:]) != l.digest {
			return fmt.Errorf("%w: object %s does not give its stored digest", ErrInconsistentStore, l.entity)
		}
		fc, ok := classes[o.Type]
		if !ok {
			if fc, err = x.classes(ctx, run.Connector, run.Version, o.Type); err != nil {
				return err
			}
			classes[o.Type] = fc
		}
		if err := redact(ctx, vs, role, o, fc, &d, r); err != nil {
			return err
		}
		path, err := pb.InclusionProof(int64(i))
		if err != nil {
			return err
		}
		proof := make([]string, len(path))
		for j, h := range path {
			proof[j] = hex.EncodeToString(h[:])
		}
		r.objects = append(r.objects, Object{ReceiptID: r.receiptID, Connection: o.Connection, Type: o.Type,
			Digest: l.digest, LeafIndex: int64(i), Proof: proof, Disclosure: d})
		if !slices.Contains(r.types, o.Type) {
			r.types = append(r.types, o.Type)
		}
		events, err := t.Lineage(ctx, l.entity)
		if err != nil {
			return err
		}
		for _, ev := range events {
			if ev.RunID == r.pred.RunID {
				r.lineage = append(r.lineage, ev)
			}
		}
	}
	slices.Sort(r.types)
	return nil
}

// redact applies the role's rules to every field of d. A memoised
// verdict still lists its decision under every run whose objects it
// redacts, so each run's entries name decisions the bundle lists.
func redact(ctx context.Context, vs *verdicts, role string, o store.Object, classes map[string]string, d *receipt.Disclosure, r *ingestRun) error {
	names := make([]string, 0, len(d.Fields))
	for name := range d.Fields {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		// The connector the receipt signs (the object's own, since the run
		// committed it): Verify recomputes a decision's input from it.
		f := Field{Tenant: r.pred.TenantID, Role: role, Connector: r.pred.ConnectorID, ObjectType: o.Type, Name: name, Class: classes[name]}
		v, err := vs.decide(ctx, f)
		if err != nil {
			return err
		}
		if v.DecisionID != "" && !slices.Contains(r.decisions, v.DecisionID) {
			r.decisions = append(r.decisions, v.DecisionID)
		}
		if !v.Redact {
			continue
		}
		if err := d.Redact(name); err != nil {
			return err
		}
		red := Redaction{EntityID: d.EntityID, Path: PointerTo(name), RuleID: v.RuleID, Reason: v.Reason, Role: role, DecisionID: v.DecisionID}
		if v.DecisionID != "" {
			red.PIIClass = f.Class // the decision's input, for Verify to recompute its digest
		}
		r.redacted = append(r.redacted, red)
	}
	return nil
}

// RegistryClasses reads field policies from the manifests of the
// connector registry.
func RegistryClasses(db *store.DB) FieldClasses {
	return func(ctx context.Context, connector, version, objectType string) (map[string]string, error) {
		v, err := db.Platform().RegistryVersion(ctx, connector, version)
		if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrInvalid) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		m, err := manifest.Parse(v.Manifest)
		if err != nil {
			return nil, nil
		}
		return ManifestClasses(m)(ctx, connector, version, objectType)
	}
}

// ManifestClasses reads field policies from the given manifests (by
// connector id and version), for connectors run outside the registry.
func ManifestClasses(ms ...*protocol.Manifest) FieldClasses {
	return func(_ context.Context, connector, version, objectType string) (map[string]string, error) {
		for _, m := range ms {
			if m.ID != connector || m.Version != version {
				continue
			}
			for _, ot := range m.ObjectTypes {
				if ot.Name == objectType {
					out := make(map[string]string, len(ot.Fields))
					for name, fp := range ot.Fields {
						out[name] = fp.PII
					}
					return out, nil
				}
			}
		}
		return nil, nil
	}
}

// Chain tries each lookup in turn and returns the first known manifest.
func Chain(lookups ...FieldClasses) FieldClasses {
	return func(ctx context.Context, connector, version, objectType string) (map[string]string, error) {
		for _, l := range lookups {
			fc, err := l(ctx, connector, version, objectType)
			if err != nil || fc != nil {
				return fc, err
			}
		}
		return nil, nil
	}
}
