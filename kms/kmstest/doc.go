// Package kmstest helps test KMS backends and their consumers, the way
// net/http/httptest helps test HTTP code: [Conformance] is the behaviour
// every backend must show, and [StartLocalKMS] runs a real
// AWS-KMS-compatible server (github.com/nsmithuk/local-kms) on loopback.
//
// StartLocalKMS fails the test, never skips it, when the server binary is
// missing: the awskms tests are part of the suite CI runs. Install it
// with `make tools`, which runs
//
//	go install github.com/nsmithuk/local-kms@v0.0.0-20260228092603-2a5e92d09ab6
package kmstest
