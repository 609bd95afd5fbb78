//go:build tools

package sluice

import (
	_ "github.com/Masterminds/semver/v3"
	_ "github.com/dgraph-io/badger/v4"
	_ "github.com/extism/go-sdk"
	_ "github.com/go-chi/chi/v5"
	_ "github.com/gowebpki/jcs"
	_ "github.com/in-toto/attestation/go/v1"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/santhosh-tekuri/jsonschema/v6"
	_ "github.com/secure-systems-lab/go-securesystemslib/dsse"
	_ "github.com/spf13/cobra"
	_ "github.com/tetratelabs/wazero"
	_ "github.com/transparency-dev/merkle/rfc6962"
	_ "golang.org/x/time/rate"
	_ "github.com/google/uuid"
)
