// Package report is the certification report of package conformance:
// the vocabulary (levels, gates, statuses), the result of every check,
// the levels a module reached, and the report's JSON and HTML forms.
//
// It is its own package so its persisted format has its own testdata/
// (the golden report): conformance/testdata is a separate Go module that
// holds the defect corpus, and every file there is hashed into the
// defect modules' build digest.
package report
