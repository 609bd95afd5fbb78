// Package conformance certifies connector modules: it runs a module
// through a real engine (real Badger in a temporary folder, real Wasm,
// real HTTP to a sample tenant) and checks what the host observed, not
// what the partner claims. Because every byte a connector moves crosses
// the host, the suite needs no knowledge of the connector's remote API:
// it watches the hosts, methods and scopes used, scans logs, emits,
// outputs, tapes and receipts for canary secrets, re-runs and replays
// for determinism, and injects faults for the chaos gate.
//
// Partners call it from their own tests:
//
//	func TestCertify(t *testing.T) {
//		conformance.Run(t, conformance.Target{Module: wasm, Manifest: manifestJSON},
//			conformance.WithLevel(conformance.Silver))
//	}
//
// Run runs every check as a subtest and fails t for every check the
// requested level requires that did not pass; Certify is the same
// without a *testing.T (the `sluice certify` command).
//
// Checks live in a Registry, a value: Default returns every built-in
// check, and a caller may Register its own. A check has a stable id
// ("correctness.discover-stable"), a gate, the lowest level that
// requires it, docs (what it proves, how to fix a failure) and a Run
// function returning a Verdict. A check may need others: when one of
// them does not pass, it is skipped, naming the cause, so one defect is
// reported once, under its own id. A level is reached only when every
// check it requires passes; a skipped required check is a failure.
//
// The sample tenant is a live URL of a sandbox remote (package
// conformance/sandbox, whose control plane the chaos and rate-limit
// checks use to inject faults), an in-process sandbox started on
// 127.0.0.1 when no URL is given, or a directory of recorded tapes.
package conformance
