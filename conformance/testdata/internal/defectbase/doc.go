// Package defectbase is the well-behaved connector every module of the
// defect corpus starts from. Each defect (conformance/testdata/defects)
// takes it, replaces or hooks the one handler that carries its defect,
// and registers the result, so that it violates exactly one rule.
//
// The base connector talks to the sandbox remote's directory API like
// the directory example connector, but simply: the cursor is the
// remote's own page cursor, every sync is a snapshot, and discover
// answers from the defect's embedded connector.json, so the two agree by
// construction. Its webhook export handles the directory's events
// correctly (it answers the event's id), so only a defect that hooks it
// (Options.EventID) fails the redelivery check.
package defectbase
