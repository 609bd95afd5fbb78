package conformance

import "slices"

// builtin is every built-in check in report order; a check comes after
// every check it needs.
func builtin() []Check {
	return slices.Concat(staticChecks(), correctnessChecks(), []Check{replayCheck()}, securityChecks(), privacyChecks(),
		reliabilityChecks(), actionChecks(), observabilityChecks(), provenanceChecks())
}
