// Package marketplace is the submission path of the connector
// marketplace: a partner (or an admin) submits an uploaded version, the
// service runs the conformance suite on it (package conformance: the
// static security review and the sample-tenant test), stores the report
// and sets the version's certification level, and the public directory
// and badges show the result.
//
// # Submission
//
// [Service.Submit] runs synchronously, bounded by Config.Timeout (default
// 3 minutes; the directory example takes about 10 s on two cores). The
// static review is the suite's static.* checks, not a copy of them:
// imports (static.imports), a reason for every declared scope
// (static.scope-reasons), exact https-only hosts for Gold
// (static.hosts); the registry already refused, at upload, an invalid
// manifest, a breaking minor version and a major version without a
// migration. The sample tenant is Config.SandboxURL, a running sandbox
// remote (package conformance/sandbox), or, when it is empty, an
// in-process sandbox on 127.0.0.1 that the suite starts for the
// submission and stops after it.
//
// The level set is the highest the report reached (None when Bronze is
// not reached: the version's Certification becomes empty), whatever the
// manifest claims. A submission that times out or cannot run stores
// nothing, so an earlier certification stands. Two submissions of one
// version at once are refused (ErrConflict); a later submission replaces
// the earlier record.
//
// # Directory and badges
//
// [Service.Directory] lists, per connector, the highest version (by
// semver) whose certification reached a level. [Service.Badge] names that
// version's level, or "uncertified"; [RenderBadge] draws it as SVG.
package marketplace
