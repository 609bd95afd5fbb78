package policy

import (
	"errors"
	"fmt"
)

// Sentinels callers branch on with errors.Is.
var (
	// ErrUnknownKind: the policy kind is not ingest, action or redaction.
	ErrUnknownKind = errors.New("policy: unknown policy kind")
	// ErrCompile: the expression does not compile; the error is a
	// *CompileError carrying the CEL compiler's message.
	ErrCompile = errors.New("policy: the expression does not compile")
	// ErrEval: the policy failed on an input (a runtime error, a result of
	// the wrong type, the cost limit or the deadline); the error is an
	// *EvalError. Callers treat it as a refusal.
	ErrEval = errors.New("policy: evaluation failed")
	// ErrCostLimit: an evaluation was stopped by the cost limit. It comes
	// wrapped in an *EvalError.
	ErrCostLimit = errors.New("policy: cost limit exceeded")
)

// CompileError is an expression the CEL compiler refused. Message is the
// compiler's own text (with line and column). It matches ErrCompile.
type CompileError struct {
	Kind    string
	Message string
}

func (e *CompileError) Error() string {
	return fmt.Sprintf("policy: %s expression: %s", e.Kind, e.Message)
}

// Is reports whether target is ErrCompile.
func (e *CompileError) Is(target error) bool { return target == ErrCompile }

// EvalError is a failed evaluation. It matches ErrEval and unwraps to the
// cause (ErrCostLimit, a context error, or CEL's error).
type EvalError struct {
	Kind         string
	PolicyDigest string
	Err          error
}

func (e *EvalError) Error() string {
	return fmt.Sprintf("policy: %s policy %s: %v", e.Kind, e.PolicyDigest, e.Err)
}

// Is reports whether target is ErrEval.
func (e *EvalError) Is(target error) bool { return target == ErrEval }

// Unwrap returns the cause.
func (e *EvalError) Unwrap() error { return e.Err }
