// Package logs builds the process's *slog.Logger: JSON for machines, text
// on a terminal, and a level per component.
//
// A component is the value of the "component" attribute a package's
// logger carries (logger.With("component", "engine")); Options.Levels
// sets a level per component, so an operator turns one part to debug
// without drowning in the rest. Secrets never reach this package: every
// caller scrubs before it logs (hostfns.Scrubber, redacting types in
// api), and the handler adds nothing but what it is given.
package logs
