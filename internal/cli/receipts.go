package cli

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/sluicehq/sluice/receipt"
	"github.com/sluicehq/sluice/store"
)

func newReceiptsCmd() *cobra.Command {
	c := &cobra.Command{Use: "receipts", Short: "Inspect and verify signed receipts"}
	var data, tenant string
	verify := &cobra.Command{
		Use:   "verify",
		Short: "Verify every stored receipt of a tenant; exit 1 if any fails",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if data == "" || tenant == "" {
				return usageError("--data and --tenant are required")
			}
			keys, err := loadKeySet(data)
			if err != nil {
				return err
			}
			db, err := store.Open(store.Options{Dir: data + "/store"})
			if err != nil {
				return fmt.Errorf("store: %w", err)
			}
			defer db.Close()
			t, err := db.Tenant(tenant)
			if err != nil {
				return usageError("--tenant: %v", err)
			}
			ok, bad := 0, 0
			err = t.Receipts(c.Context(), func(r store.Receipt) error {
				if _, err := receipt.Verify(r.Envelope, keys); err != nil {
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
	c.AddCommand(verify)
	return c
}

// loadKeySet reads the public half of the data folder's signing key.
// Verification never creates a key.
func loadKeySet(data string) (receipt.KeySet, error) {
	b, err := os.ReadFile(keyPath(data))
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	k, err := receipt.ParseKey(b)
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	return receipt.NewKeySet(k.Public())
}
