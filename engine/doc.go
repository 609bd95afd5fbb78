// Package engine loads connector modules and runs them.
//
// A module is checked before it is compiled: every import must be one of
// Sluice's host functions (namespace sluice:host/v1), the Extism kernel's
// memory and I/O helpers, or WASI preview 1 without sockets. Anything
// else, notably Extism's own http_request (which follows redirects with
// http.DefaultClient and checks only the first host), is refused with an
// *ImportError naming the import.
//
// Compiled code is cached on disk under the data folder (owner-only) and
// in memory, keyed by the module's SHA-256. Instances are pooled per
// tenant × module digest, never shared across tenants, recycled after a
// bounded number of calls and thrown away after any failure, since a
// timed-out or trapped instance is closed by wazero.
//
// Every invocation runs under limits: linear memory pages, a wall-clock
// deadline (the instance is closed at the deadline, not waited for), an
// output cap and a cap on emitted records. The guest's clock and random
// source are virtual and set per call (each page of a run starts from its
// own), so a replay sees the same time and the same random bytes.
//
// Runs (sync, backfill) call the connector page by page. After each page
// the engine commits the page's objects, edges, lineage and the cursor
// that follows in one store transaction, so a run killed at any point
// resumes from its last checkpoint with no object lost or duplicated.
// Every run ends with a signed receipt.
//
// Every page call is recorded as a tape.Call (its input, exchanges, emit
// and log digests, output or error) with its own clock and seed, run or
// no run tape; a page that fails becomes a dead-letter item carrying a
// tape of just that call (see deadLetter). Replay re-runs a tape offline
// and reports every difference; ReplayPage re-runs a dead-lettered page
// against the live remote through the connector's replay export.
package engine
