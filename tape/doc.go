// Package tape defines the recorded form of a connector run: the
// invocation inputs, every sluice_http exchange, the virtual clock and
// random seed, and the digests of everything the module emitted and
// returned. A tape is what makes a run replayable: feed the module the
// same inputs and answers and it must emit byte-identical digests.
//
// A tape never holds a secret: request headers that carried an injected
// credential are stored redacted.
package tape
