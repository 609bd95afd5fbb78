// Package registry is the connector registry: partners upload bundles
// (a Wasm module, its connector.json and the runbooks it names), the
// registry checks them and stores each version, and runs load the
// stored modules.
//
// # Upload
//
// [ParseBundle] reads a bundle from a tar.gz or multipart/form-data
// body, refusing anything that is not exactly module.wasm,
// connector.json and runbooks/*.md as regular files under their size
// limits. [Registry.Upload] then checks, cheapest first:
//
//   - the manifest, with [manifest.Parse] (the JSON Schema
//     [manifest.Schema] that the API publishes, then semantic rules), and
//     that the runbooks it names are exactly those of the bundle;
//   - ownership: the first partner to upload a connector id owns it;
//   - the version: the same version with the same bytes returns the
//     stored version, with other bytes is a conflict;
//   - compatibility (semver, github.com/Masterminds/semver/v3): a minor
//     or patch version must not break any schema of the highest earlier
//     release of its major (see [ChangeKind]); the first version of a new
//     major may break the previous major only with a migration section
//     whose from names that major;
//   - the module: its imports (nothing outside the sandbox) and that it
//     compiles, with [engine.Engine.Load];
//   - that discover() agrees with the manifest in every declaration.
//
// Modules and runbooks are stored by SHA-256 digest, once however many
// versions share them (store.Platform's registry records).
//
// # Errors
//
// Every refusal is an [*Error]: its Kind is one of the package's
// sentinels, its Errors name each offending field (a bundle file, a
// JSON pointer into connector.json such as
// "connector.json#/object_types/0/schema", or a parameter), and a
// breaking version also lists each [Change]. An API answers with RFC
// 9457 problem details by testing, in this order:
//
//	ErrUnsupportedMediaType   415
//	ErrTooLarge               413
//	ErrBadBundle              400
//	ErrInvalid                400 if Code is CodeInvalidArgument, else 422
//	ErrConflict               409
//	ErrForbidden              403
//	ErrNotFound               404
//
// (the first three also match ErrInvalid). Any other error is the
// server's: 500.
package registry
