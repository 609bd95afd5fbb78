package local_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/sluicehq/sluice/kms"
	"github.com/sluicehq/sluice/kms/local"
)

func ExampleOpen() {
	dataDir, _ := os.MkdirTemp("", "sluice-example-")
	defer os.RemoveAll(dataDir)

	k, err := local.Open(filepath.Join(dataDir, "keys", "kms.key"))
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	aad := []byte("sluice/tenant-dek/v1|acme")
	wrapped, _ := k.Encrypt(ctx, []byte("data key"), aad)

	dek, err := k.Decrypt(ctx, wrapped, aad)
	fmt.Printf("%s %v\n", dek, err)

	_, err = k.Decrypt(ctx, wrapped, []byte("sluice/tenant-dek/v1|globex"))
	fmt.Println(errors.Is(err, kms.ErrDecrypt))
	// Output:
	// data key <nil>
	// true
}
