package secrets_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/sluicehq/sluice/kms/local"
	"github.com/sluicehq/sluice/secrets"
	"github.com/sluicehq/sluice/store"
)

func Example() {
	ctx := context.Background()
	dataDir, _ := os.MkdirTemp("", "sluice-example-")
	defer os.RemoveAll(dataDir)

	db, _ := store.Open(store.Options{InMemory: true})
	defer db.Close()
	k, err := local.Open(filepath.Join(dataDir, "keys", "kms.key"))
	if err != nil {
		fmt.Println(err)
		return
	}
	vault, _ := secrets.New(secrets.Config{Store: db, KMS: k})
	acme, _ := db.Tenant("acme")

	_ = vault.Put(ctx, acme, "crm", "client_id", "app-123")
	_ = vault.Put(ctx, acme, "crm", "client_secret", "s3cr3t")
	_ = vault.Rotate(ctx, acme, "crm", "client_secret", "n3w-s3cr3t")

	names, _ := vault.Names(ctx, acme, "crm")
	fmt.Println("names:", names)

	creds, _ := vault.Open(ctx, acme, "crm") // for the engine's credentials only
	fmt.Println("client_secret opens:", creds["client_secret"] == "n3w-s3cr3t")

	err = vault.Delete(ctx, acme, "crm", "nope")
	fmt.Println(err)
	fmt.Println(errors.Is(err, secrets.ErrNotFound))
	// Output:
	// names: [client_id client_secret]
	// client_secret opens: true
	// secrets: delete secret "nope" of connection "crm" (tenant "acme"): secrets: not found
	// true
}
