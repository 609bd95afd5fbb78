package engine

import (
	"context"
	"fmt"
	"strings"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/sluicehq/sluice/guest-sdk/protocol"
)

// extismKernel is the part of the Extism kernel (extism:host/env) a
// module may import: memory management, input/output and logging.
// http_request, config and vars are absent on purpose: http_request
// escapes the egress gate, and vars outlive a call, breaking replay.
var extismKernel = map[string]bool{
	"alloc": true, "free": true, "length": true, "length_unsafe": true,
	"load_u8": true, "load_u64": true, "store_u8": true, "store_u64": true,
	"input_length": true, "input_offset": true, "input_load_u8": true, "input_load_u64": true,
	"output_set": true, "error_set": true,
	"log_info": true, "log_debug": true, "log_warn": true, "log_error": true, "log_trace": true,
	"get_log_level": true,
}

// hostFuncs are Sluice's host functions with their exact signatures.
var hostFuncs = map[string]struct{ params, results []api.ValueType }{
	protocol.FuncHTTP: {[]api.ValueType{api.ValueTypeI64}, []api.ValueType{api.ValueTypeI64}},
	protocol.FuncEmit: {[]api.ValueType{api.ValueTypeI64}, []api.ValueType{api.ValueTypeI64}},
	protocol.FuncLog:  {[]api.ValueType{api.ValueTypeI32, api.ValueTypeI64}, nil},
}

const (
	wasiModule   = "wasi_snapshot_preview1"
	extismModule = "extism:host/env"
)

// Import is one function a module imports.
type Import struct {
	Module string `json:"module"`
	Name   string `json:"name"`
}

// CheckImports compiles wasm far enough to read its imports and refuses
// any the sandbox does not provide. It returns the imports on success.
func CheckImports(ctx context.Context, wasm []byte) ([]Import, error) {
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter())
	defer rt.Close(ctx)
	return checkImports(ctx, rt, wasm)
}

func checkImports(ctx context.Context, rt wazero.Runtime, wasm []byte) ([]Import, error) {
	cm, err := rt.CompileModule(ctx, wasm)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidModule, err)
	}
	defer cm.Close(ctx)
	if mems := cm.ImportedMemories(); len(mems) > 0 {
		m, n, _ := mems[0].Import()
		return nil, &ImportError{Module: m, Name: n, Reason: "importing memory is not allowed"}
	}
	var out []Import
	for _, f := range cm.ImportedFunctions() {
		mod, name, _ := f.Import()
		if err := allowImport(mod, name, f); err != nil {
			return nil, err
		}
		out = append(out, Import{Module: mod, Name: name})
	}
	return out, nil
}

func allowImport(mod, name string, f api.FunctionDefinition) error {
	switch mod {
	case protocol.HostNamespace:
		sig, ok := hostFuncs[name]
		if !ok {
			return &ImportError{Module: mod, Name: name, Reason: "not a Sluice host function"}
		}
		if !sameTypes(sig.params, f.ParamTypes()) || !sameTypes(sig.results, f.ResultTypes()) {
			return &ImportError{Module: mod, Name: name, Reason: "wrong signature"}
		}
		return nil
	case extismModule:
		if extismKernel[name] {
			return nil
		}
		if strings.HasPrefix(name, "http_") {
			return &ImportError{Module: mod, Name: name, Reason: "Extism's HTTP bypasses the egress gate; use sluice:host/v1 sluice_http"}
		}
		return &ImportError{Module: mod, Name: name, Reason: "not part of the allowed Extism kernel"}
	case wasiModule:
		if strings.HasPrefix(name, "sock_") {
			return &ImportError{Module: mod, Name: name, Reason: "sockets are not available in the sandbox"}
		}
		return nil
	}
	if strings.HasPrefix(mod, "sluice:host/") {
		return &ImportError{Module: mod, Name: name, Reason: "unsupported ABI version; this host speaks " + protocol.HostNamespace}
	}
	return &ImportError{Module: mod, Name: name, Reason: "unknown import module"}
}

func sameTypes(a, b []api.ValueType) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
