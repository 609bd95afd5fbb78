package cli

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/sluicehq/sluice/keyring"
	"github.com/sluicehq/sluice/kms/awskms"
	"github.com/sluicehq/sluice/store"
)

func newKeysCmd() *cobra.Command {
	c := &cobra.Command{Use: "keys", Short: "Receipt signing keys: list and rotate"}
	var data string
	var asPEM bool
	list := &cobra.Command{
		Use:   "list",
		Short: "List the signing keys (public keys, ids, active/retired, times)",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return withKeyring(c.Context(), data, func(r *keyring.Ring) error {
				keys, err := r.Keys(c.Context())
				if err != nil {
					return err
				}
				return printKeys(c.OutOrStdout(), keys, asPEM)
			})
		},
	}
	list.Flags().StringVar(&data, "data", "", "data folder")
	list.Flags().BoolVar(&asPEM, "pem", false, "write the public keys as PEM (for --key of receipts verify and export verify)")
	rotate := &cobra.Command{
		Use:   "rotate",
		Short: "Make a new active signing key; the old one is retired and keeps verifying",
		Long: `Generate a new Ed25519 signing key, wrapped by the KMS, make it active and
retire the active one. Retired keys stay in the keyring, so receipts they
signed keep verifying. The store is locked by a running 'sluice serve':
rotate a running server with POST /v1/signing-keys/rotate instead.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return withKeyring(c.Context(), data, func(r *keyring.Ring) error {
				k, err := r.Rotate(c.Context())
				if err != nil {
					return err
				}
				fmt.Fprintf(c.OutOrStdout(), "active signing key: %s\n", k.ID)
				return nil
			})
		},
	}
	rotate.Flags().StringVar(&data, "data", "", "data folder")
	c.AddCommand(list, rotate)
	return c
}

func withKeyring(ctx context.Context, data string, fn func(*keyring.Ring) error) error {
	if data == "" {
		return usageError("--data is required")
	}
	db, err := store.Open(store.Options{Dir: filepath.Join(data, "store")})
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	defer db.Close()
	r, err := openKeyring(ctx, data, db, nil)
	if err != nil {
		return err
	}
	return fn(r)
}

func printKeys(w io.Writer, keys []keyring.PublicKey, asPEM bool) error {
	if !asPEM {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(keys)
	}
	for _, k := range keys {
		b, err := marshalPublicKey(ed25519.PublicKey(k.Public))
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "# %s (%s)\n%s", k.ID, k.State, b)
	}
	return nil
}

// signingKMS is the KMS `sluice serve --kms awskms` wraps the signing
// keys with; nil (the local key file) otherwise. A keyring wrapped by
// one KMS needs that KMS to sign: the CLI commands that open the folder
// without serve (sync, keys, export) use the local key file.
func signingKMS(ctx context.Context, o serveOptions) (keyring.KMS, error) {
	if o.kms != "awskms" {
		return nil, nil
	}
	k, err := awskms.New(ctx, o.aws)
	if err != nil {
		return nil, fmt.Errorf("kms: %w", err)
	}
	return k, nil
}
