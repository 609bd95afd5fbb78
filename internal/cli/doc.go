// Package cli implements the sluice command line with cobra. Each
// command is a small function over the public packages (engine, store,
// receipt, conformance/sandbox); Main returns the exit code so tests can
// run commands in process.
package cli
