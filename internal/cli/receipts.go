package cli

import (
	"context"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/sluicehq/sluice/keyring"
	"github.com/sluicehq/sluice/receipt"
	"github.com/sluicehq/sluice/store"
)

func newReceiptsCmd() *cobra.Command {
	c := &cobra.Command{Use: "receipts", Short: "Inspect and verify signed receipts"}
	var data, tenant string
	var keyFiles []string
	verify := &cobra.Command{
		Use:   "verify",
		Short: "Verify every stored receipt of a tenant; exit 1 if any fails",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if data == "" || tenant == "" {
				return usageError("--data and --tenant are required")
			}
			db, err := store.Open(store.Options{Dir: data + "/store"})
			if err != nil {
				return fmt.Errorf("store: %w", err)
			}
			defer db.Close()
			keys, err := trustedKeys(c.Context(), db, data, keyFiles)
			if err != nil {
				return err
			}
			t, err := db.Tenant(tenant)
			if err != nil {
				return usageError("--tenant: %v", err)
			}
			ok, bad := 0, 0
			err = t.Receipts(c.Context(), func(r store.Receipt) error {
				if err := verifyReceipt(r.Envelope, keys); err != nil {
					bad++
					fmt.Fprintf(c.ErrOrStderr(), "receipt %s (run %s): %v\n", r.ID, r.RunID, err)
					return nil
				}
				ok++
				return nil
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(c.OutOrStdout(), "%d receipts verified, %d failed (tenant %s)\n", ok, bad, tenant)
			if bad > 0 {
				return &exitError{code: 1, err: fmt.Errorf("%d receipts failed verification", bad)}
			}
			return nil
		},
	}
	verify.Flags().StringVar(&data, "data", "", "data folder")
	verify.Flags().StringVar(&tenant, "tenant", "", "tenant id")
	verify.Flags().StringArrayVar(&keyFiles, "key", nil, "trust only this public key (PEM, as `sluice keys list --pem` writes it); repeatable; default: every key of the data folder's keyring")
	c.AddCommand(verify)
	return c
}

// trustedKeys is the KeySet receipts are checked with: the public keys
// in keyFiles if any are given, otherwise every key of the keyring,
// active and retired, plus a legacy keys/signing.pem not yet imported
// (the folder was never opened by a newer sluice). Verification never
// creates a key.
func trustedKeys(ctx context.Context, db *store.DB, data string, keyFiles []string) (receipt.KeySet, error) {
	if len(keyFiles) > 0 {
		return readPublicKeys(keyFiles)
	}
	ks, err := keyring.KeySet(ctx, db.Platform())
	if err != nil {
		return nil, fmt.Errorf("keyring: %w", err)
	}
	if b, err := os.ReadFile(keyPath(data)); err == nil {
		k, err := receipt.ParseKey(b)
		if err != nil {
			return nil, fmt.Errorf("signing key: %w", err)
		}
		if _, err := ks.Add(k.Public()); err != nil {
			return nil, fmt.Errorf("signing key: %w", err)
		}
	}
	return ks, nil
}

// readPublicKeys reads PEM public keys (PKIX "PUBLIC KEY" blocks, as
// `sluice keys list --pem` writes them; a file may hold several).
func readPublicKeys(files []string) (receipt.KeySet, error) {
	ks := receipt.KeySet{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, usageError("--key: %v", err)
		}
		n := 0
		for {
			var block *pem.Block
			block, b = pem.Decode(b)
			if block == nil {
				break
			}
			pub, err := x509.ParsePKIXPublicKey(block.Bytes)
			ed, ok := pub.(ed25519.PublicKey)
			if err != nil || !ok || block.Type != "PUBLIC KEY" {
				return nil, usageError("--key %s: not an Ed25519 PEM public key", f)
			}
			if _, err := ks.Add(ed); err != nil {
				return nil, usageError("--key %s: %v", f, err)
			}
			n++
		}
		if n == 0 {
			return nil, usageError("--key %s: no PEM public key in the file", f)
		}
	}
	return ks, nil
}

// marshalPublicKey writes pub as a PEM PKIX public key.
func marshalPublicKey(pub ed25519.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

// verifyReceipt checks an envelope's signature, then decodes its
// predicate strictly when the type is one this sluice knows, so a
// well-signed receipt with a malformed predicate fails too. Unknown
// types are checked by signature alone.
func verifyReceipt(envelope []byte, keys receipt.KeySet) error {
	v, err := receipt.Verify(envelope, keys)
	if err != nil {
		return err
	}
	switch v.PredicateType {
	case receipt.PredicateIngest:
		_, err = v.Ingest()
	case receipt.PredicateReplay:
		_, err = v.Replay()
	case receipt.PredicateActionRun:
		_, err = v.Action()
	case receipt.PredicateCheck:
		_, err = v.Check()
	case receipt.PredicatePurge:
		_, err = v.Purge()
	}
	return err
}
