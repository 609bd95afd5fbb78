package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluicehq/sluice/export"
	"github.com/sluicehq/sluice/guest-sdk/protocol"
	"github.com/sluicehq/sluice/policy"
	"github.com/sluicehq/sluice/receipt"
	"github.com/sluicehq/sluice/store"
)

func newExportCmd() *cobra.Command {
	var data, tenant, from, to, role, out string
	var manifests []string
	c := &cobra.Command{
		Use:   "export",
		Short: "Write a compliance export bundle of a tenant (receipts, redacted objects, proofs, lineage, keys)",
		Long: `Write one JSON bundle holding the receipts of a tenant whose time is in
[--from, --to), the objects those runs committed as selective disclosures
redacted for --role (auditor: no PII; admin, pii: everything), their
Merkle inclusion proofs, redaction metadata, policy references, lineage
as OpenLineage run events and the public signing keys.
Check it offline with 'sluice export verify'.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if data == "" || tenant == "" || out == "" || role == "" {
				return usageError("--data, --tenant, --role and --out are required")
			}
			f, err := parseTimeFlag("from", from)
			if err != nil {
				return err
			}
			t, err := parseTimeFlag("to", to)
			if err != nil {
				return err
			}
			var ms []*protocol.Manifest
			for _, p := range manifests {
				m, err := readManifest(p)
				if err != nil {
					return usageError("--manifest: %v", err)
				}
				ms = append(ms, m)
			}
			db, err := store.Open(store.Options{Dir: filepath.Join(data, "store")})
			if err != nil {
				return fmt.Errorf("store: %w", err)
			}
			defer db.Close()
			// The keyring must hold the folder's key (a legacy key file
			// is imported here) for the receipts to verify.
			if _, err := openKeyring(c.Context(), data, db, nil); err != nil {
				return err
			}
			x, err := export.New(export.Config{Store: db, Classes: export.Chain(export.ManifestClasses(ms...), export.RegistryClasses(db)),
				Rules: export.PolicyRules{Store: db, Policies: policy.New(policy.Config{})}}) // the tenant's CEL redaction policy
			if err != nil {
				return err
			}
			b, err := x.Export(c.Context(), export.Scope{Tenant: tenant, From: f, To: t, Role: role})
			if err != nil {
				var se *export.ScopeError
				if errors.As(err, &se) {
					return usageError("--%s: %s", se.Field, se.Reason)
				}
				return err
			}
			doc, err := export.Marshal(b)
			if err != nil {
				return err
			}
			if err := os.WriteFile(out, doc, 0o600); err != nil {
				return fmt.Errorf("--out: %w", err)
			}
			fmt.Fprintf(c.OutOrStdout(), "export of tenant %s for role %s: %d receipts, %d objects, %d redactions, %d omitted -> %s\n",
				tenant, role, len(b.Receipts), len(b.Objects), len(b.Redactions), len(b.Omitted), out)
			return nil
		},
	}
	fl := c.Flags()
	fl.StringVar(&data, "data", "", "data folder")
	fl.StringVar(&tenant, "tenant", "", "tenant id")
	fl.StringVar(&from, "from", "", "start of the range, RFC 3339, inclusive")
	fl.StringVar(&to, "to", "", "end of the range, RFC 3339, exclusive")
	fl.StringVar(&role, "role", "", "role the objects are redacted for: auditor, admin or pii")
	fl.StringVar(&out, "out", "", "bundle file to write")
	fl.StringArrayVar(&manifests, "manifest", nil, "connector.json giving field PII classes for connectors not in the registry; repeatable")
	c.AddCommand(newExportVerifyCmd())
	return c
}

func newExportVerifyCmd() *cobra.Command {
	var keyFiles []string
	c := &cobra.Command{
		Use:   "verify BUNDLE",
		Short: "Check an export bundle offline; exit 1 naming the first thing that fails",
		Long: `Check every signature, revealed value, field and object digest, inclusion
proof, redaction entry, policy reference and lineage event of a bundle.
Without --key the bundle's own public keys are trusted (the bundle is
intact, but not proven to come from you); pass the keys you obtained out
of band (GET /v1/signing-keys, 'sluice keys list --pem') to prove that.`,
		Args: func(c *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageError("want one bundle file, got %d arguments", len(args))
			}
			return nil
		},
		RunE: func(c *cobra.Command, args []string) error {
			var ks receipt.KeySet // nil: trust the bundle's own keys
			if len(keyFiles) > 0 {
				var err error
				if ks, err = readPublicKeys(keyFiles); err != nil {
					return err
				}
			}
			doc, err := os.ReadFile(args[0])
			if err != nil {
				return usageError("bundle: %v", err)
			}
			rep, err := export.Verify(doc, ks)
			if err != nil {
				return &exitError{code: 1, err: err}
			}
			fmt.Fprintf(c.OutOrStdout(), "bundle verified: tenant %s, role %s, %d keys, %d receipts, %d objects (%d fields revealed, %d redacted), %d omitted\n",
				rep.Tenant, rep.Role, rep.Keys, rep.Receipts, rep.Objects, rep.RevealedFields, rep.RedactedFields, rep.Omitted)
			return nil
		},
	}
	c.Flags().StringArrayVar(&keyFiles, "key", nil, "trusted Ed25519 public key (PEM); repeatable")
	return c
}

func parseTimeFlag(name, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, usageError("--%s is required (RFC 3339)", name)
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, usageError("--%s %q: not an RFC 3339 time", name, v)
	}
	return t, nil
}
