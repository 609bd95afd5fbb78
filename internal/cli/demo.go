package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/sluicehq/sluice/conformance/sandbox"
	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/receipt"
)

// Demo credentials of the sandbox remote; they exist only on loopback.
const (
	demoClientID     = "sandbox-client"
	demoClientSecret = "sandbox-secret"
)

func newDemoCmd() *cobra.Command {
	var data, module, manifestPath, tenant string
	var users int
	c := &cobra.Command{
		Use:   "demo",
		Short: "Start the sandbox remote, sync the directory example into DIR and print the signed receipt",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return runDemo(c.Context(), c.OutOrStdout(), c.ErrOrStderr(), demoSpec{
				data: data, module: module, manifest: manifestPath, tenant: tenant, users: users,
			})
		},
	}
	c.Flags().StringVar(&data, "data", "./data", "data folder")
	c.Flags().StringVar(&module, "module", "build/wasm/directory.wasm", "directory connector module")
	c.Flags().StringVar(&manifestPath, "manifest", "connectors-wasm/directory/connector.json", "directory connector manifest")
	c.Flags().StringVar(&tenant, "tenant", "acme", "tenant id")
	c.Flags().IntVar(&users, "users", 1000, "sandbox users")
	return c
}

type demoSpec struct {
	data, module, manifest, tenant string
	users                          int
}

func runDemo(ctx context.Context, out, errw io.Writer, s demoSpec) error {
	sb := sandbox.New(sandbox.Config{Users: s.users, ClientID: demoClientID, ClientSecret: demoClientSecret})
	base, err := sb.Start("127.0.0.1:0")
	if err != nil {
		return err
	}
	defer sb.Close()
	fmt.Fprintf(out, "sandbox remote on %s with %d users\n", base, s.users)
	h, err := openHome(s.data, homeOptions{allowPrivate: true, logger: newLogger(errw, false)})
	if err != nil {
		return err
	}
	defer h.close(ctx)
	mod, err := h.loadModule(ctx, s.module, s.manifest)
	if err != nil {
		return fmt.Errorf("%w (run `make wasm` first)", err)
	}
	t, err := h.db.Tenant(s.tenant)
	if err != nil {
		return usageError("--tenant: %v", err)
	}
	conn, err := h.connection(ctx, t, mod, connSpec{
		config:  map[string]string{"base_url": base},
		secrets: map[string]string{"client_id": demoClientID, "client_secret": demoClientSecret},
	})
	if err != nil {
		return err
	}
	res, err := h.engine.Sync(ctx, conn, engine.RunOptions{Full: true})
	if res != nil {
		printRun(out, false, engine.KindSync, res)
	}
	if err != nil {
		return err
	}
	ks, err := h.keys.KeySet(ctx)
	if err != nil {
		return err
	}
	v, err := receipt.Verify(res.Envelope, ks)
	if err != nil {
		return fmt.Errorf("receipt does not verify: %w", err)
	}
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, v.Statement, "", "  "); err != nil {
		return err
	}
	fmt.Fprintf(out, "receipt %s verified (key %s); its in-toto statement:\n%s\n", res.Run.ReceiptID, v.KeyID, pretty.String())
	fmt.Fprintf(out, "verify again any time: sluice receipts verify --data %s --tenant %s\n", s.data, s.tenant)
	return nil
}
