package kmstest

import (
	"os"
	"strings"
	"testing"
)

// The Makefile's tools target must install the version the failure
// message of StartLocalKMS names.
func TestMakefilePinsLocalKMSVersion(t *testing.T) {
	b, err := os.ReadFile("../../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	if want := "LOCAL_KMS_VERSION ?= " + LocalKMSVersion; !strings.Contains(string(b), want) {
		t.Errorf("Makefile lacks %q", want)
	}
}
